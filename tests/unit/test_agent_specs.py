"""The container-definition → Docker translation of the agent, without an engine."""

from portside.agent.specs import create_args, dependency_met, docker_name, start_order


def test_start_order_puts_dependencies_first_and_keeps_declared_order_otherwise():
    containers = [{"name": "app", "dependsOn": [{"containerName": "db", "condition": "HEALTHY"},
                                                {"containerName": "init",
                                                 "condition": "SUCCESS"}]},
                  {"name": "db"}, {"name": "init"}, {"name": "side"}]
    assert [c["name"] for c in start_order(containers)] == ["db", "init", "side", "app"]


def test_create_args_maps_limits_ports_and_process_settings():
    args = create_args({
        "name": "web", "image": "img", "cpu": 1, "memory": 128, "memoryReservation": 64,
        "command": ["serve"], "entryPoint": ["/bin/sh", "-c"], "workingDirectory": "/srv",
        "user": "1000", "dockerLabels": {"team": "a"},
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "portMappings": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 53,
                                                                "protocol": "udp",
                                                                "hostPort": 5353}],
        "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5}},
        network_mode="bridge", name="n", labels={"portside.agent": "k"}, env={"A": "1"})
    assert args["cpu_shares"] == 2 and args["mem_limit"] == "128m"
    assert args["mem_reservation"] == "64m"
    assert args["entrypoint"] == ["/bin/sh", "-c"] and args["command"] == ["serve"]
    assert args["working_dir"] == "/srv" and args["user"] == "1000"
    assert args["labels"] == {"team": "a", "portside.agent": "k"}
    assert args["ulimits"][0]["Name"] == "nofile" and args["ulimits"][0]["Hard"] == 2048
    assert args["ports"] == {"80/tcp": ("127.0.0.1", None), "53/udp": ("127.0.0.1", 5353)}
    assert args["healthcheck"]["interval"] == 5_000_000_000
    assert "ports" not in create_args({"name": "x", "image": "i", "portMappings": [
        {"containerPort": 80}]}, network_mode="container:abc", name="n", labels={}, env={})


def test_dependency_conditions():
    def state(status, code=0, health=None):
        found = {"Status": status, "ExitCode": code}
        if health:
            found["Health"] = {"Status": health}
        return {"State": found}

    assert dependency_met("START", state("running")) is True
    assert dependency_met("COMPLETE", state("running")) is None
    assert dependency_met("COMPLETE", state("exited", 1)) is True
    assert dependency_met("SUCCESS", state("exited", 1)) is False
    assert dependency_met("SUCCESS", state("exited", 0)) is True
    assert dependency_met("HEALTHY", state("running", health="starting")) is None
    assert dependency_met("HEALTHY", state("running", health="healthy")) is True
    assert dependency_met("HEALTHY", state("running", health="unhealthy")) is False


def test_docker_names_are_valid_and_per_task():
    assert docker_name("arn:aws:ecs:r:1:task/c/abc", "my app") == "portside-abc-my-app"
