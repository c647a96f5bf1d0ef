"""GetRandomPassword: a password from the kernel's random source, honouring the request's
character rules.

Characters come from lowercase letters, uppercase letters, digits and the punctuation
``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`` (and the space when IncludeSpace), less ExcludeCharacters
and the excluded types. With RequireEachIncludedType (the default) every type that still has
characters appears at least once.
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

DEFAULT_LENGTH = 32
PUNCTUATION = string.punctuation


@dataclass(frozen=True)
class PasswordRules:
    length: int = DEFAULT_LENGTH
    exclude_characters: str = ""
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True

    @classmethod
    def of(cls, request: dict) -> PasswordRules:
        def flag(name: str, default: bool = False) -> bool:
            value = request.get(name)
            return default if value is None else bool(value)

        return cls(
            length=request.get("PasswordLength") or DEFAULT_LENGTH,
            exclude_characters=request.get("ExcludeCharacters") or "",
            exclude_numbers=flag("ExcludeNumbers"),
            exclude_punctuation=flag("ExcludePunctuation"),
            exclude_uppercase=flag("ExcludeUppercase"),
            exclude_lowercase=flag("ExcludeLowercase"),
            include_space=flag("IncludeSpace"),
            require_each_included_type=flag("RequireEachIncludedType", True),
        )

    def character_types(self) -> list[str]:
        """The character sets the password draws from, each less the excluded characters;
        types left empty are dropped."""
        types = [(string.ascii_lowercase, self.exclude_lowercase),
                 (string.ascii_uppercase, self.exclude_uppercase),
                 (string.digits, self.exclude_numbers),
                 (PUNCTUATION, self.exclude_punctuation),
                 (" ", not self.include_space)]
        excluded = set(self.exclude_characters)
        kept = ["".join(c for c in chars if c not in excluded) for chars, off in types if not off]
        return [chars for chars in kept if chars]


class Unsatisfiable(ValueError):
    """No password can follow these rules."""


def random_password(rules: PasswordRules) -> str:
    types = rules.character_types()
    if not types:
        raise Unsatisfiable("The password can't be generated: every character is excluded.")
    required = [secrets.choice(chars) for chars in types] if rules.require_each_included_type \
        else []
    if len(required) > rules.length:
        raise Unsatisfiable(f"The password length {rules.length} is too short to include "
                            f"each of the {len(required)} required character types.")
    alphabet = "".join(types)
    chars = required + [secrets.choice(alphabet) for _ in range(rules.length - len(required))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
