"""The deployment files agree with the README, the compose file and the package.

.ci/run also validates docker-compose.yml with docker-compose and runs the
image's command against the package as a wheel installs it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = REPO_ROOT / ".env.example"


def env_example_names() -> list[str]:
    names = []
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            names.append(line.split("=", 1)[0].strip())
    return names


def readme_configuration_variables() -> set[str]:
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, re.MULTILINE))


def test_env_example_lists_readme_variables() -> None:
    variables = readme_configuration_variables()

    assert "ETL_DATABASE_URL" in variables
    assert variables - set(env_example_names()) == set()


def test_env_example_lists_compose_variables() -> None:
    compose = (REPO_ROOT / "docker-compose.yml").read_text("utf-8")
    # ${NAME}, ${NAME:-default} and ${NAME:?message}; $$ escapes a literal $.
    variables = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", compose))

    assert "POSTGRES_PASSWORD" in variables
    assert variables - set(env_example_names()) == set()


def test_env_example_names_are_unique() -> None:
    names = env_example_names()

    assert len(names) == len(set(names))


def test_dockerfile_command_module_exists() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text("utf-8")
    commands = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    command = json.loads(commands[-1].removeprefix("CMD "))

    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None


def test_dockerfile_copies_wheel_sources() -> None:
    # pyproject.toml puts migrations/ and sql/ into the wheel, so the image
    # needs them in its build directory.
    copied = {
        line.split()[1]
        for line in (REPO_ROOT / "Dockerfile").read_text("utf-8").splitlines()
        if line.startswith("COPY ")
    }

    assert {"etl", "migrations", "sql", "pyproject.toml"} <= copied
