"""What a type checker sees of the public API: mypy on a user's code, with our ``py.typed``.

`io`, `Socket`, `Namespace`, `register` and the operators have their real types (the
package's lazy ``__getattr__`` exists only at run time), so a misspelt method is caught.
Only the user's file is reported (``--follow-imports=silent``): this proves what users
get, not that every internal line type-checks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

USER_CODE = """\
from django_socketio import Namespace, Socket, io, register


@register
class Chat(Namespace):
    namespace = "/chat"

    async def on_message(self, socket: Socket, text: str) -> str:
        await socket.emitt("message", text)
        await socket.to("lobby").emit("message", text)
        return "ok"


async def publish() -> None:
    await io.of("/chat").to("lobby").emitt("news")
    io.of("/chat").emit_sync("news", 1)
    reveal_type(io)
    reveal_type(io.of("/chat").to("lobby"))
    reveal_type(Chat)
"""


def test_mypy_sees_the_public_api(tmp_path: Path) -> None:
    assert (ROOT / "django_socketio" / "py.typed").is_file()
    user = tmp_path / "user_sockets.py"
    user.write_text(USER_CODE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--ignore-missing-imports",  # Django and Channels ship no type information
            "--follow-imports=silent",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(user),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # "file:line: error: ...; maybe ...?" -> "error: ..." (the suggestions may change)
    lines = [line.split(": ", 1)[1].split(";")[0] for line in done.stdout.splitlines()]
    assert lines == [
        'error: "Socket" has no attribute "emitt"',
        'error: "BroadcastOperator" has no attribute "emitt"',
        'note: Revealed type is "django_socketio.server.DjangoSocketIOServer"',
        'note: Revealed type is "django_socketio.socketio.operators.BroadcastOperator"',
        'note: Revealed type is "def () -> user_sockets.Chat"',  # @register keeps the class
    ], done.stdout + done.stderr
