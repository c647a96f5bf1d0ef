"""Amazon EventBridge: buses, rules, targets, event patterns, schedules and delivery."""
