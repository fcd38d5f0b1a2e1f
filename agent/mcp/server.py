"""``screenpilot mcp``: screenpilot as a Model Context Protocol server, on the official ``mcp`` SDK.

An MCP client (Claude Desktop, an IDE agent, any MCP client) hands screen tasks to a local screenpilot. The tools
and their arguments are part of the contract:

``run_task(task, url, max_steps=None)``
    Carry out ``task`` from the page ``url`` in a fresh browser; progress goes out as MCP progress notifications,
    one per step. Returns ``status``, ``reason``, ``steps``, ``answer``, ``message`` and ``run_dir``.
``open_session(url=None)``
    Open a browser session on ``url`` (default: the server's ``--url``, else a blank page). Returns ``session_id``,
    ``run_dir`` and the screen ``width`` / ``height`` in pixels.
``act(session_id, instruction)``
    The model carries out one step of ``instruction``. Returns ``did`` (what was done, in words), ``actions``,
    ``executed``, ``notes`` (what the safety gate refused), ``done``, ``answer`` and ``step``.
``extract(session_id, question, schema=None)``
    The model reads the screen and answers JSON validating against ``schema`` (a JSON Schema object; default: any
    object or array). Returns ``{"value": ...}``.
``screenshot(session_id)``
    The screen now, as a PNG image content block (secret fields masked).
``close_session(session_id)``
    Close the session; returns its ``run_dir`` and ``steps``.

What the client cannot change is fixed when the server starts, with ``run``'s options: the model and backend, the
prompt format, the browser window, the safety policy (allowed and blocked domains...) and the secrets. The client
only picks tasks and start pages, and every navigation — the start page included — passes the policy as in the
CLI. No terminal is attached, so the model's questions (``ask_user``) and the policy's confirmations go to the
client as MCP elicitations when it supports them; otherwise a question gets no answer and a confirmation the
policy's no-terminal default (deny unless ``--no-terminal-default approve``). Elicitation needs a connection with a
back-channel for server requests (the initialize-handshake protocol versions); on a 2026-07-28 connection there is
none, and ``act``'s result carries the model's question (``did``) for the client to answer in its next instruction.

Browser work is blocking (Playwright's sync API, bound to the thread that started it), so each session lives on a
thread of its own and each ``run_task`` on a fresh one; the server's event loop only waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import typer
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from screenpilot.agent.actions import describe, to_json
from screenpilot.agent.api.session import Session, TaskResult
from screenpilot.agent.cli.options import ModelOptions, RunOutput, SafetyOptions, Target, parse_url, run_settings
from screenpilot.agent.errors import ConfigError, ScreenpilotError
from screenpilot.agent.run.loop import RunResult, StepRecord
from screenpilot.agent.run.runner import run_task
from screenpilot.agent.run.settings import BrowserTarget, PhoneTarget, PlannerSettings, PromptSettings, RunSettings
from screenpilot.agent.safety.gate import Confirmer
from screenpilot.agent.safety.policy import Verdict

T = TypeVar("T")

ANSWER_WAIT_S = 600.0
"""Seconds a question or confirmation waits for the client's answer before it counts as unanswered."""


@dataclass(frozen=True)
class ServerSettings:
    """What ``screenpilot mcp`` was started with: ``run``'s option groups, built."""

    where: Target
    model: ModelOptions
    prompt: PromptSettings
    safety: SafetyOptions
    output: RunOutput
    planner: PlannerSettings | None = None

    def run_settings(self, task: str, url: str | None, max_steps: int | None = None) -> RunSettings:
        """The settings of one task or session from the page ``url`` (None: the server's own start page).
        ConfigError for a URL that is neither a URL nor an existing file."""
        where = self.where
        if url is not None and isinstance(where, BrowserTarget | PhoneTarget):
            try:
                where = replace(where, url=parse_url(url))
            except typer.BadParameter as exc:
                raise ConfigError(f"url {url!r}: {exc.message}") from None
        output = self.output if max_steps is None else replace(self.output, max_steps=max_steps)
        return run_settings(task, where=where, model=self.model, prompt=self.prompt, safety=self.safety,
                            output=output, planner=self.planner)


class AgentQuestion(BaseModel):
    """The form of an ask_user elicitation."""

    answer: str = Field(description="your answer to the agent's question")


class ActionApproval(BaseModel):
    """The form of a confirmation elicitation."""

    approve: bool = Field(description="let the agent carry out this action")
    note: str = Field("", description="optional: why not, or what to do instead (sent to the model)")


class _ClientLink:
    """The tool call now in progress (its context and event loop), so a worker thread can send progress and ask the
    client questions. Set for the duration of each call; between calls nobody is there to ask."""

    def __init__(self) -> None:
        self.context: Context[Any, Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @contextmanager
    def during(self, context: Context[Any, Any], loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        self.context, self.loop = context, loop
        try:
            yield
        finally:
            self.context = self.loop = None

    def can_elicit(self) -> bool:
        caps = None if self.context is None else self.context.client_capabilities
        return caps is not None and caps.elicitation is not None

    def send_progress(self, progress: float, total: float | None, message: str) -> None:
        """Send a progress notification (not waited for)."""
        if self.context is not None and self.loop is not None:
            asyncio.run_coroutine_threadsafe(self.context.report_progress(progress, total, message), self.loop)

    def elicit(self, message: str, schema: type[BaseModel]) -> BaseModel | None:
        """The client's accepted answer to ``message``, or None (declined, cancelled, unsupported, timed out)."""
        if not self.can_elicit() or self.context is None or self.loop is None:
            return None
        future = asyncio.run_coroutine_threadsafe(self.context.elicit(message, schema), self.loop)
        try:
            result = future.result(timeout=ANSWER_WAIT_S)
        except Exception:
            return None
        return result.data if result.action == "accept" else None


class _ClientPerson:
    """The model's questions, asked of the MCP client."""

    def __init__(self, link: _ClientLink) -> None:
        self._link = link

    def ask(self, question: str) -> str | None:
        reply = self._link.elicit(f"The screen agent asks: {question}", AgentQuestion)
        return reply.answer if isinstance(reply, AgentQuestion) else None


class _ClientConfirmer(Confirmer):
    """The policy's confirmations, asked of the MCP client; the no-terminal default when it cannot answer."""

    def __init__(self, link: _ClientLink, default: Literal["deny", "approve"]) -> None:
        super().__init__(default, interactive=False)
        self._link = link

    def confirm(self, description: str, reason: str) -> Verdict:
        decision = self._link.elicit(f"The screen agent wants to: {description} ({reason}). Allow it?", ActionApproval)
        if isinstance(decision, ActionApproval):
            if decision.approve:
                return Verdict("allow", "confirm:approved")
            return Verdict("deny", "confirm:denied", decision.note or "The user denied this action.")
        return super().confirm(description, reason)


class _Progress:
    """Observer sending one progress notification per step of a task."""

    def __init__(self, link: _ClientLink, max_steps: int) -> None:
        self._link, self._max_steps = link, max_steps

    def on_start(self, task: str) -> None:
        """Nothing to send yet."""

    def on_step(self, step: StepRecord) -> None:
        did = "; ".join(describe(a) for a in step.screen_actions) or (step.error.type if step.error else "no action")
        self._link.send_progress(step.index, self._max_steps, f"step {step.index}: {did}")

    def on_end(self, result: RunResult) -> None:
        """The tool's result reports the end."""


class _OpenSession:
    """A session on its own thread (Playwright's sync objects stay on the thread that made them)."""

    def __init__(self, thread: ThreadPoolExecutor, session: Session, link: _ClientLink) -> None:
        self.thread, self.session, self.link = thread, session, link


def _task_json(result: TaskResult) -> dict[str, Any]:
    return {"status": result.status, "reason": result.reason, "steps": result.steps, "answer": result.answer,
            "message": result.message, "run_dir": str(result.run_dir)}


class ScreenServer:
    """The server's state: its settings and the open sessions, by id. :meth:`build` makes the MCP server."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.sessions: dict[str, _OpenSession] = {}

    async def _on_thread(self, thread: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        """``work()`` on ``thread``, awaited; our errors become tool errors with their message."""
        try:
            return await asyncio.wrap_future(thread.submit(work))
        except ScreenpilotError as exc:
            raise ToolError(exc.message) from None

    def _session(self, session_id: str) -> _OpenSession:
        found = self.sessions.get(session_id)
        if found is None:
            known = ", ".join(self.sessions) or "none"
            raise ToolError(f"no open session {session_id!r} (open sessions: {known}); call open_session first")
        return found

    async def _in_session(self, session_id: str, ctx: Context[Any, Any], work: Callable[[Session], T]) -> T:
        opened = self._session(session_id)
        with opened.link.during(ctx, asyncio.get_running_loop()):
            return await self._on_thread(opened.thread, lambda: work(opened.session))

    async def run_task(self, task: str, url: str, max_steps: int | None, ctx: Context[Any, Any]) -> dict[str, Any]:
        link = _ClientLink()
        settings = self.settings.run_settings(task, url, max_steps)
        confirmer = _ClientConfirmer(link, settings.policy.no_terminal_default)

        def work() -> TaskResult:
            outcome = run_task(settings, [_Progress(link, settings.max_steps)], human=_ClientPerson(link),
                               confirmer=confirmer)
            return TaskResult.of(outcome.result, outcome.run_dir)

        with ThreadPoolExecutor(1, thread_name_prefix="screenpilot-task") as thread, \
                link.during(ctx, asyncio.get_running_loop()):
            return _task_json(await self._on_thread(thread, work))

    async def open_session(self, url: str | None, ctx: Context[Any, Any]) -> dict[str, Any]:
        link = _ClientLink()
        settings = self.settings.run_settings("mcp session", url)
        thread = ThreadPoolExecutor(1, thread_name_prefix="screenpilot-session")

        def work() -> Session:
            return Session(settings, self.settings.output, human=_ClientPerson(link),
                           confirmer=_ClientConfirmer(link, settings.policy.no_terminal_default))

        try:
            with link.during(ctx, asyncio.get_running_loop()):
                session = await self._on_thread(thread, work)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        session_id = uuid.uuid4().hex[:8]
        self.sessions[session_id] = _OpenSession(thread, session, link)
        width, height = session.executor.size
        return {"session_id": session_id, "run_dir": str(session.run_dir), "width": width, "height": height}

    async def act(self, session_id: str, instruction: str, ctx: Context[Any, Any]) -> dict[str, Any]:
        did = await self._in_session(session_id, ctx, lambda s: s.act(instruction))
        return {"did": str(did), "actions": [to_json(a) for a in did.actions], "executed": did.executed,
                "notes": did.notes, "done": did.done, "answer": did.answer, "step": did.step}

    async def extract(self, session_id: str, question: str, schema: dict[str, Any] | None,
                      ctx: Context[Any, Any]) -> dict[str, Any]:
        value = await self._in_session(session_id, ctx, lambda s: s.extract(question, schema))
        return {"value": value}

    async def screenshot(self, session_id: str, ctx: Context[Any, Any]) -> Image:
        def png(session: Session) -> bytes:
            buffer = io.BytesIO()
            session.screenshot().save(buffer, format="PNG")
            return buffer.getvalue()

        return Image(data=await self._in_session(session_id, ctx, png), format="png")

    async def close_session(self, session_id: str, ctx: Context[Any, Any]) -> dict[str, Any]:
        opened = self._session(session_id)
        try:
            await self._in_session(session_id, ctx, lambda s: s.close())
        finally:
            del self.sessions[session_id]
            opened.thread.shutdown(wait=False)
        return {"run_dir": str(opened.session.run_dir), "steps": opened.session.steps}

    def close_all(self) -> None:
        """Close every open session (the server is stopping)."""
        for session_id, opened in list(self.sessions.items()):
            with contextlib.suppress(Exception):  # the server is going away; close what can be closed
                opened.thread.submit(opened.session.close).result(timeout=60)
            opened.thread.shutdown(wait=False)
            del self.sessions[session_id]

    def build(self) -> MCPServer:
        """The MCP server with the six tools of the module doc."""

        @asynccontextmanager
        async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await asyncio.to_thread(self.close_all)

        import screenpilot

        server: MCPServer[Any] = MCPServer(
            "screenpilot", version=screenpilot.__version__, lifespan=lifespan, log_level="WARNING",
            instructions="Hands screen tasks to a local vision-language agent that operates a browser through its "
            "screen. run_task does a whole task; open_session, act, extract, screenshot and close_session drive "
            "one browser step by step. The model, safety policy and secrets are the server's own.")

        @server.tool(description="Carry out a task in a fresh browser from the page url, until the agent says it "
                     "is done or max_steps model calls run out. Returns status (success, failure, error, stopped), "
                     "reason, steps, the agent's answer and the run folder.")
        async def run_task(task: str, url: str, ctx: Context[Any, Any], max_steps: int | None = None
                           ) -> dict[str, Any]:
            return await self.run_task(task, url, max_steps, ctx)

        @server.tool(description="Open a browser session on url (default: the server's start page). Returns "
                     "session_id, run_dir and the screen width and height in pixels.")
        async def open_session(ctx: Context[Any, Any], url: str | None = None) -> dict[str, Any]:
            return await self.open_session(url, ctx)

        @server.tool(description="The agent carries out one step of instruction (e.g. 'click Sign up') in the "
                     "session and says what it did.")
        async def act(session_id: str, instruction: str, ctx: Context[Any, Any]) -> dict[str, Any]:
            return await self.act(session_id, instruction, ctx)

        @server.tool(description="The agent reads the session's screen and answers question as JSON that "
                     "validates against schema (a JSON Schema; default any object or array). Returns {value}.")
        async def extract(session_id: str, question: str, ctx: Context[Any, Any],
                          schema: dict[str, Any] | None = None) -> dict[str, Any]:
            return await self.extract(session_id, question, schema, ctx)

        @server.tool(description="The session's screen now, as a PNG image.")
        async def screenshot(session_id: str, ctx: Context[Any, Any]) -> Image:
            return await self.screenshot(session_id, ctx)

        @server.tool(description="Close the session. Returns its run folder and step count.")
        async def close_session(session_id: str, ctx: Context[Any, Any]) -> dict[str, Any]:
            return await self.close_session(session_id, ctx)

        return server


def serve(settings: ServerSettings, http: tuple[str, int] | None = None) -> None:
    """Serve until the client disconnects (stdio) or the process is stopped (``http``: host and port, streamable
    HTTP at ``/mcp``)."""
    server = ScreenServer(settings).build()
    if http is None:
        server.run("stdio")
    else:
        host, port = http
        server.run("streamable-http", host=host, port=port)


__all__ = ["ScreenServer", "ServerSettings", "serve"]

