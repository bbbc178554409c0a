"""A ``compose`` target: one service of a Docker Compose file, run for the test with the
``docker compose`` command line (``docker`` on the PATH).

Start: ``docker compose --file F --project-name P up --detach SERVICE`` (Compose starts the
services it depends on too), then ``docker compose ... port SERVICE PORT`` for the address
Docker published the container's port on; requests go to ``http://127.0.0.1:<that port>``
once the ready check answers. Stop: ``docker compose ... down --volumes --timeout 5``
(containers, networks and volumes of the project; 5 seconds for a container to stop, as
mbtspec gives its own processes). The project name is unique to the run and the target
(``mbtspec-<pid>-<target>``), so parallel runs never share containers.

The containers are the Docker daemon's children, not mbtspec's: the supervisor cannot stop
them when mbtspec is killed with SIGKILL (the project name is in the target's log, for
``docker compose -p <name> down --volumes``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mbtspec.errors import TargetError
from mbtspec.executor._services import CommandFailed, run_to_end
from mbtspec.executor.targets import UrlTarget
from mbtspec.spec.model import TargetDef

UP_TIMEOUT = 600.0  # seconds 'up' may take (it may pull images)
DOWN_TIMEOUT = 120.0
_PUBLISHED = re.compile(r"^(?:\[[^\]]*\]|[^:\s]*):(\d+)\s*$", re.MULTILINE)


class ComposeTarget(UrlTarget):
    """A service of a Compose file, up for the run and down (with its volumes) after it."""

    def __init__(self, definition: TargetDef, headers: dict[str, str], tmp: Path) -> None:
        assert definition.compose is not None
        super().__init__(definition, headers, "http://127.0.0.1")
        self.compose = definition.compose
        self.tmp = tmp
        self.project = re.sub(r"[^a-z0-9_-]", "-", f"mbtspec-{os.getpid()}-{self.name}".lower())
        self.log_path = tmp / f"{self.name}.compose.log"
        self.started = False

    def _argv(self, *words: str) -> list[str]:
        return ["docker", "compose", "--file", self.compose.file, "--project-name",
                self.project, *words]

    async def _docker(self, what: str, *words: str, timeout: float) -> list[str]:
        """Run ``docker compose ... words``; its output lines; ``TargetError`` if it fails."""
        log = self.tmp / f"{self.name}.compose.{what}.log"
        try:
            await run_to_end(self._argv(*words), env=dict(os.environ), cwd=None,
                             log_path=log, timeout=timeout)
        except CommandFailed as err:
            hint = ("; is Docker installed, with the compose plugin, and its daemon running?"
                    if "cannot start" in str(err) or "exited" in str(err) else "")
            raise TargetError(self.name, f"'docker compose {what}' failed: {err}{hint}",
                              err.tail, str(log) if err.tail else None) from None
        return log.read_text(encoding="utf-8", errors="replace").splitlines()

    async def start(self) -> None:
        self.started = True  # (from here on, 'down' cleans up whatever 'up' did)
        await self._docker("up", "up", "--detach", self.compose.service, timeout=UP_TIMEOUT)
        lines = await self._docker("port", "port", self.compose.service,
                                   str(self.compose.port), timeout=60)
        found = _PUBLISHED.search("\n".join(lines))
        if found is None:
            raise TargetError(self.name, f"port {self.compose.port} of service "
                              f"'{self.compose.service}' is not published (docker compose port "
                              f"answered {' '.join(lines)!r}); add 'ports: [\"{self.compose.port}"
                              "\"]' to the service in the Compose file")
        self.base_url = f"http://127.0.0.1:{found.group(1)}"
        await self.wait_ready()

    async def stop(self) -> None:
        await super().stop()
        if self.started:
            self.started = False
            try:
                await self._docker("down", "down", "--volumes", "--timeout", "5",
                                   timeout=DOWN_TIMEOUT)
            except TargetError:
                pass  # (its log stays in the run's folder; the run has ended anyway)
