"""The safety gate: which actions may run, which need a person's yes, and which never run.

Configured from a YAML file (``--policy FILE``) and CLI options, checked before every action by
:class:`SafetyPolicy`. Rules, in order:

1. ``dry_run``: every action is recorded as ``skip`` and not carried out.
2. Navigation (a Navigate action, and — through :meth:`SafetyPolicy.check_url`, which the
   browser executor calls for every top-level navigation, redirect and new tab — any URL):
   blocked domains are denied; when ``allow_domains`` is not empty, other domains are denied
   (or sent for confirmation with ``confirm: [navigate]``); ``file://`` URLs and private-network
   hosts (localhost, 10/8, 172.16/12, 192.168/16, link-local, ::1, fc00::/7) are denied unless
   allowed. The start URL the user gave is trusted: its origin is allowed implicitly.
3. Desktop keys: blocked chords (default: ones that log out, lock, kill the X server or switch
   virtual terminals) are denied.
4. Blocked screen regions: clicks, drags and moves into them are denied.
5. Uploads: a file may be uploaded only from inside ``upload_dir`` (``--upload-dir``): the path, relative ones
   taken inside that folder, is resolved (symlinks and ``..`` included, :func:`~screenpilot.agent.actions.upload_path`)
   and must lie within it. Without ``upload_dir`` every upload is denied. A new tab's URL is vetted like a
   navigation.
6. Confirmation: actions of the kinds in ``confirm`` (``type``, ``key``, ``navigate``, ``click``,
   or ``all``) are put to a person, who approves, denies with a note for the model, takes over
   (does the step by hand) or stops the run. With no terminal, ``no_terminal_default`` applies.

Domain patterns: ``example.org`` matches the domain and its subdomains; ``*.example.org`` only
subdomains; patterns are case-insensitive.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field

from screenpilot.agent.actions import (
    Action,
    AndroidKey,
    Click,
    Drag,
    LongPress,
    MoveTo,
    Navigate,
    NewTab,
    OpenApp,
    Point,
    PressKeys,
    Scroll,
    Swipe,
    SystemButton,
    TypeText,
    Upload,
    upload_path,
)
from screenpilot.agent.config_files import FileModel, NonEmpty, Pixels, list_as_tuple, read_yaml, validate_file
from screenpilot.agent.frame import Frame
from screenpilot.agent.safety.policy import Verdict

ConfirmKind = Literal["type", "key", "navigate", "click", "all"]
CONFIRM_KINDS: tuple[str, ...] = ("type", "key", "navigate", "click", "all")

DEFAULT_BLOCKED_CHORDS: tuple[tuple[str, ...], ...] = (
    ("ctrl", "alt", "delete"),
    ("ctrl", "alt", "backspace"),
    ("ctrl", "alt", "l"),
    ("meta", "l"),
    ("ctrl", "alt", "q"),
    ("ctrl", "shift", "q"),
    *(("ctrl", "alt", f"f{i}") for i in range(1, 13)),
)


@dataclass(frozen=True)
class Region:
    """A screen rectangle in screen pixels: left, top, width, height."""

    left: int
    top: int
    width: int
    height: int

    def contains(self, point: Point) -> bool:
        """True when ``point`` lies inside (edges included on the top-left, excluded bottom-right)."""
        return self.left <= point.x < self.left + self.width and self.top <= point.y < self.top + self.height


@dataclass(frozen=True)
class PolicyConfig:
    """Everything the gate decides by. See the module docstring for the rules."""

    allow_domains: tuple[str, ...] = ()
    block_domains: tuple[str, ...] = ()
    allow_file_urls: bool = False
    allow_private_network: bool = False
    trusted_origins: tuple[str, ...] = ()
    blocked_chords: tuple[tuple[str, ...], ...] = DEFAULT_BLOCKED_CHORDS
    blocked_regions: tuple[Region, ...] = ()
    confirm: tuple[str, ...] = ()
    no_terminal_default: Literal["deny", "approve"] = "deny"
    dry_run: bool = False
    upload_dir: Path | None = None

    def trusting(self, start_url: str | None) -> PolicyConfig:
        """This config with ``start_url``'s origin trusted (the user asked to open it)."""
        if not start_url:
            return self
        return replace(self, trusted_origins=(*self.trusted_origins, origin_of(start_url)))


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``; ``file://`` for any file URL."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return "file://"
    return f"{parts.scheme}://{parts.netloc}".lower()


def domain_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` matches ``pattern`` (``example.org`` incl. subdomains; ``*.x`` subdomains only)."""
    host, pattern = host.lower().rstrip("."), pattern.lower().strip().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern or host.endswith("." + pattern)


def is_private_host(host: str) -> bool:
    """localhost and IP literals in loopback, private, link-local or unique-local ranges."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


def url_verdict(url: str, config: PolicyConfig) -> Verdict:
    """Allow or deny navigating to ``url`` under ``config`` (confirmation is decided elsewhere)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("about", "data", "blob", "chrome-error"):
        return Verdict("allow", "internal-page")
    if origin_of(url) in config.trusted_origins:
        return Verdict("allow", "start-url-origin")
    if scheme == "file":
        if config.allow_file_urls:
            return Verdict("allow", "file-urls-allowed")
        return Verdict("deny", "file-urls", f"Opening local files ({url}) is not allowed.")
    if scheme not in ("http", "https"):
        return Verdict("deny", "scheme", f"The URL scheme {scheme!r} is not allowed.")
    host = parts.hostname or ""
    for pattern in config.block_domains:
        if domain_matches(host, pattern):
            return Verdict("deny", f"block-domain:{pattern}", f"The domain {host} is blocked.")
    if is_private_host(host) and not config.allow_private_network:
        return Verdict("deny", "private-network", f"Private network addresses ({host}) are not allowed.")
    if config.allow_domains and not any(domain_matches(host, p) for p in config.allow_domains):
        return Verdict("deny", "not-allow-listed", f"The domain {host} is not on the allow-list.")
    return Verdict("allow", "url")


def upload_verdict(path: str, upload_dir: Path | None) -> Verdict:
    """Allow uploading ``path`` only when it resolves (:func:`~screenpilot.agent.actions.upload_path`) to a place inside
    ``upload_dir``; deny it otherwise, and always when there is no ``upload_dir``. The notes are for the model."""
    if upload_dir is None:
        return Verdict("deny", "upload-not-allowed", "Uploading files is not allowed in this run (the user can allow "
                       "it with --upload-dir FOLDER, or upload_dir in the policy file).")
    root = upload_dir.expanduser().resolve()
    if not upload_path(path, upload_dir).is_relative_to(root):
        return Verdict("deny", "upload-outside-folder",
                       f"Only files inside {root} may be uploaded; {path!r} is outside that folder.")
    return Verdict("allow", "upload-dir")


def stdin_can_answer() -> bool:
    """Whether standard input can carry answers: a terminal, a pipe or a file (not /dev/null
    or a closed stream). Scripted answers can be piped in: ``printf 'y\\nn\\n' | screenpilot run ...``."""
    try:
        if sys.stdin is None or sys.stdin.closed:
            return False
        if sys.stdin.isatty():
            return True
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


class Confirmer:
    """Asks a person in the terminal whether an action may run.

    ``read`` and ``write`` default to stdin/stderr; ``interactive`` says whether answers can
    come (default: :func:`stdin_can_answer`). Answers: ``y`` approve, ``n [note]`` deny (the
    note goes to the model), ``t`` take over (the person does the step; the model is told),
    ``s`` stop. At end of input the no-terminal ``default`` applies.
    """

    def __init__(
        self,
        default: Literal["deny", "approve"] = "deny",
        read: Callable[[], str] | None = None,
        out: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.default = default
        self._read = read or sys.stdin.readline
        self._out = out or sys.stderr
        self.interactive = stdin_can_answer() if interactive is None else interactive

    def confirm(self, description: str, reason: str) -> Verdict:
        """The person's decision about the action ``description`` (needing confirmation for ``reason``)."""
        if self.interactive:
            self._out.write(f"\nThe agent wants to: {description}  ({reason})\n"
                            "  [y] approve  [n NOTE] deny  [t] take over  [s] stop > ")
            self._out.flush()
            answer = self._read()
            if answer:
                return parse_confirmation(answer.strip())
            self.interactive = False  # end of input: nobody is left to answer
        if self.default == "approve":
            return Verdict("allow", "confirm:no-terminal")
        return Verdict("deny", "confirm:no-terminal",
                       "The action needed a person's approval and nobody was there to give it.")


class TerminalPerson:
    """Answers the model's ask-user questions from the terminal (None when nobody is there)."""

    def __init__(self, read: Callable[[], str] | None = None, out: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self._read = read or sys.stdin.readline
        self._out = out or sys.stderr
        self.interactive = stdin_can_answer() if interactive is None else interactive

    def ask(self, question: str) -> str | None:
        """Show ``question`` and return the typed answer (None without a terminal or on EOF)."""
        if not self.interactive:
            return None
        self._out.write(f"\nThe agent asks: {question}\n  your answer > ")
        self._out.flush()
        return self._read().strip() or None


def parse_confirmation(answer: str) -> Verdict:
    """Turn a typed answer into a verdict (anything unrecognised, including EOF, denies)."""
    word, _, note = answer.partition(" ")
    word = word.lower()
    if word in ("y", "yes", "a", "approve"):
        return Verdict("allow", "confirm:approved")
    if word in ("t", "take", "takeover"):
        input_note = "The user took over and performed this step by hand; look at the new screen."
        return Verdict("skip", "confirm:takeover", input_note)
    if word in ("s", "stop", "q", "quit"):
        return Verdict("stop", "confirm:stop", "The user stopped the run.")
    text = note.strip() if word in ("n", "no", "d", "deny") else answer.strip()
    return Verdict("deny", "confirm:denied",
                   "The user denied this action." + (f" Their note: {text}" if text else ""))


def _chord(keys: Sequence[str]) -> frozenset[str]:
    return frozenset(k.lower() for k in keys)


@dataclass
class SafetyPolicy:
    """The configured gate (implements :class:`screenpilot.agent.safety.policy.Policy`)."""

    config: PolicyConfig
    confirmer: Confirmer = field(default_factory=Confirmer)
    executor_kind: str = "browser"

    def check(self, action: Action, frame: Frame) -> Verdict:
        """The verdict for one screen-space action about to run on ``frame``."""
        if self.config.dry_run:
            return Verdict("skip", "dry-run", "Dry run: the action was recorded but not carried out.")
        verdict = self._rules(action)
        if verdict.decision != "allow":
            return verdict
        reason = self._confirmation_reason(action, verdict)
        if reason is None:
            return verdict
        from screenpilot.agent.actions import describe

        return self.confirmer.confirm(describe(action), reason)

    def check_url(self, url: str) -> Verdict:
        """The verdict for a navigation the page itself started (redirect, link, new tab)."""
        return url_verdict(url, self.config)

    def describe(self) -> dict[str, object]:
        """What run.json records."""
        c = self.config
        return {
            "policy": "safety", "allow_domains": list(c.allow_domains), "block_domains": list(c.block_domains),
            "allow_file_urls": c.allow_file_urls, "allow_private_network": c.allow_private_network,
            "trusted_origins": list(c.trusted_origins), "blocked_chords": ["+".join(k) for k in c.blocked_chords],
            "blocked_regions": [[r.left, r.top, r.width, r.height] for r in c.blocked_regions],
            "confirm": list(c.confirm), "no_terminal_default": c.no_terminal_default, "dry_run": c.dry_run,
            "upload_dir": None if c.upload_dir is None else str(c.upload_dir),
        }

    def _rules(self, action: Action) -> Verdict:
        match action:
            case Navigate(url=url) | NewTab(url=str() as url):
                return url_verdict(url, self.config)
            case Upload(path=path):
                return upload_verdict(path, self.config.upload_dir)
            case PressKeys(keys=keys):
                chord = _chord(keys)
                for blocked in self.config.blocked_chords:
                    if chord == _chord(blocked):
                        return Verdict("deny", "blocked-keys", f"The key combination {'+'.join(keys)} is blocked.")
            case (Click(at=Point() as at) | MoveTo(at=at) | Scroll(at=Point() as at) | Drag(to=at) | LongPress(at=at)
                  | Swipe(start=at)):
                for region in self.config.blocked_regions:
                    if region.contains(at):
                        return Verdict("deny", "blocked-region", "That part of the screen is off limits.")
        return Verdict("allow")

    def _confirmation_reason(self, action: Action, verdict: Verdict) -> str | None:
        kinds = set(self.config.confirm)
        if "all" in kinds:
            return "every action needs confirmation"
        wanted = {TypeText: "type", PressKeys: "key", Navigate: "navigate", Click: "click", LongPress: "click",
                  AndroidKey: "key", SystemButton: "key", OpenApp: "navigate", NewTab: "navigate"}.get(type(action))
        if wanted in kinds:
            return f"'{wanted}' actions need confirmation"
        return None


# ---------------------------------------------------------------- configuration file


class PolicyFile(FileModel):
    """A policy file (``--policy FILE``): the rules of the module docstring, as YAML fields."""

    allow_domains: list[NonEmpty] = Field(default_factory=list)
    """Only these domains may be opened (empty: any domain that is not blocked)."""
    block_domains: list[NonEmpty] = Field(default_factory=list)
    """These domains are never opened."""
    allow_file_urls: bool = False
    allow_private_network: bool = False
    """Allow localhost and private-network hosts."""
    blocked_keys: list[NonEmpty] = Field(default_factory=list)
    """Chords never pressed, e.g. alt+f4."""
    add_default_blocked_keys: bool = True
    """Also block the default chords (log out, lock, kill the X server, switch terminals)."""
    blocked_regions: list[Annotated[tuple[Pixels, Pixels, Pixels, Pixels], BeforeValidator(
        list_as_tuple(4, "[left, top, width, height] (non-negative integers, screen pixels)"),
        json_schema_input_type=list[int])]] = Field(default_factory=list)
    """Screen rectangles [left, top, width, height] that clicks, drags and moves may not enter."""
    confirm: list[ConfirmKind] = Field(default_factory=list)
    """Action kinds put to a person before they run."""
    no_terminal_default: Literal["deny", "approve"] = "deny"
    """The answer to a confirmation when no person can be asked."""
    dry_run: bool = False
    """Record every action as skipped and carry none out."""
    upload_dir: NonEmpty | None = None
    """The folder files may be uploaded from (relative: to this file's folder); without it, uploads are refused."""

    def config(self, folder: Path = Path()) -> PolicyConfig:
        """The policy these fields describe; a relative ``upload_dir`` is taken inside ``folder``."""
        chords = tuple(tuple(k.strip().lower() for k in chord.split("+")) for chord in self.blocked_keys)
        return PolicyConfig(
            allow_domains=tuple(self.allow_domains), block_domains=tuple(self.block_domains),
            allow_file_urls=self.allow_file_urls, allow_private_network=self.allow_private_network,
            blocked_chords=(DEFAULT_BLOCKED_CHORDS if self.add_default_blocked_keys else ()) + chords,
            blocked_regions=tuple(Region(*region) for region in self.blocked_regions),
            confirm=tuple(self.confirm), no_terminal_default=self.no_terminal_default, dry_run=self.dry_run,
            upload_dir=None if self.upload_dir is None else folder / Path(self.upload_dir).expanduser(),
        )


def load_policy_file(path: Path) -> PolicyConfig:
    """Read a policy YAML file (empty: the defaults); every error names the file and the field."""
    data = read_yaml(path)
    return policy_from_mapping({} if data is None else data, str(path))


def policy_from_mapping(data: Mapping[str, Any], source: str) -> PolicyConfig:
    """Build a PolicyConfig from parsed YAML/JSON; :class:`ConfigFileError` names ``source`` and the field. A relative
    ``upload_dir`` is taken inside ``source``'s folder."""
    return validate_file(PolicyFile, data, Path(source)).config(Path(source).parent)
