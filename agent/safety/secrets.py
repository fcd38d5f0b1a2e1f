"""Secrets the agent can type without the model (or the record) ever seeing them.

The model sees only placeholders such as ``{{LOGIN_PASSWORD}}``; the loop swaps the value in
right before a TypeText reaches the executor, and only when the current page is on one of the
secret's domains (no domain restriction on the desktop, where there is no URL). Every string
written to the trajectory passes through :meth:`SecretStore.redact`, and browser and phone
screenshots are painted over wherever the page shows a value (fields, text, same-origin frames;
see :data:`screenpilot.tools.web.session.SECRET_BOXES_JS`), so values reach neither prompts,
logs, run folders nor saved images. On the desktop the screen is searched only with
``--mask-secrets-ocr`` (OCR of every screenshot; see :func:`screenpilot.tools.x11.desktop.paint_secret_text`).

Values come from the environment (``--secret NAME`` reads ``$NAME``) or from a file of
``NAME=value`` lines (``--secrets-file``); never from the command line in clear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from screenpilot.agent.actions import Action, TypeText
from screenpilot.agent.errors import ActionFailedError, ConfigError
from screenpilot.agent.safety.gate import domain_matches

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Secret:
    """One secret: its ``name`` (the placeholder), ``value``, and the ``domains`` it may be typed on
    (empty: wherever the start URL's host matches, or anywhere on the desktop)."""

    name: str
    value: str
    domains: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, value=<hidden>, domains={self.domains!r})"


class SecretStore:
    """Holds secrets; substitutes placeholders on allowed pages and redacts values from text."""

    def __init__(self, secrets: list[Secret], default_domains: tuple[str, ...] = ()) -> None:
        self._secrets = {s.name: s for s in secrets}
        self._default_domains = default_domains

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def names(self) -> list[str]:
        """The secret names, sorted."""
        return sorted(self._secrets)

    def prompt_note(self) -> str:
        """The sentence appended to the task so the model knows which placeholders exist."""
        placeholders = ", ".join("{{" + n + "}}" for n in self.names)
        return (f"\nSecrets: to type one, type its placeholder exactly as written ({placeholders}); "
                "its value is filled in for you and you will never see it.")

    def with_note(self, task: str) -> str:
        """``task`` as the model reads it: with :meth:`prompt_note` appended when there are secrets."""
        return task + self.prompt_note() if self else task

    def reveal(self, action: Action, url: str | None) -> Action:
        """``action`` with placeholders replaced by values (TypeText only).

        Raises ActionFailedError when a placeholder names an unknown secret or the page is
        not on the secret's domains.
        """
        if not isinstance(action, TypeText) or not PLACEHOLDER.search(action.text):
            return action
        host = (urlsplit(url).hostname or "") if url else None

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            secret = self._secrets.get(name)
            if secret is None:
                raise ActionFailedError(f"unknown secret placeholder {{{{{name}}}}}",
                                        hint=f"Known secret placeholders: {', '.join(self.names) or 'none'}.")
            domains = secret.domains or self._default_domains
            if host is not None and domains and not any(domain_matches(host, d) for d in domains):
                raise ActionFailedError(
                    f"secret {name} may not be typed on {host}",
                    hint=f"The secret {{{{{name}}}}} may only be typed on: {', '.join(domains)}.")
            return secret.value

        return TypeText(PLACEHOLDER.sub(substitute, action.text))

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by its placeholder (longest values first)."""
        for secret in sorted(self._secrets.values(), key=lambda s: -len(s.value)):
            if secret.value:
                text = text.replace(secret.value, "{{" + secret.name + "}}")
        return text

    @property
    def values(self) -> list[str]:
        """The values (for masking screenshots); never log this."""
        return [s.value for s in self._secrets.values() if s.value]


def parse_secret_option(option: str, environ: Mapping[str, str], file_values: Mapping[str, str]) -> Secret:
    """``NAME`` or ``NAME:domain1,domain2`` -> Secret with its value from the file or environment."""
    name, _, domain_list = option.partition(":")
    name = name.strip()
    if not _NAME.match(name):
        raise ConfigError(f"--secret {option!r}: the name must look like LOGIN_PASSWORD (letters, digits, _)")
    value = file_values.get(name, environ.get(name))
    if value is None:
        raise ConfigError(f"--secret {name}: no value found; set the environment variable {name} "
                          "or put NAME=value in the --secrets-file")
    domains = tuple(d.strip() for d in domain_list.split(",") if d.strip())
    return Secret(name, value, domains)


def read_secrets_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (blank lines and ``#`` comments ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read secrets file {path}: {exc.strerror}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not _NAME.match(name.strip()):
            raise ConfigError(f"{path}:{number}: expected NAME=value")
        values[name.strip()] = value
    return values


def load_secrets(options: list[str], secrets_file: Path | None, default_domains: tuple[str, ...] = ()) -> SecretStore:
    """Build the store from ``--secret`` options, reading values at the edge (env and file)."""
    file_values = read_secrets_file(secrets_file) if secrets_file else {}
    names = options or list(file_values)
    return SecretStore([parse_secret_option(o, os.environ, file_values) for o in names], default_domains)
