"""Build-and-run check of deploy/Containerfile: the image as a county would run it.

Run from the repository root on a machine with a container engine (docker or podman) and the
PostgreSQL server the tests use (127.0.0.1:5432, trust auth)::

    docker build -f deploy/Containerfile -t marac-bot:check .
    /work/venv/bin/python deploy/check_container.py --image marac-bot:check

What it does, in order, printing each step and failing loudly on the first that goes wrong:

1. creates a throwaway PostgreSQL database ``marac_container_<pid>``;
2. ``marac-bot init`` in the image (as its non-root user, with a named volume for the key file)
   creates the schema, the key file and an area, and prints the first coordinator's invite;
3. starts a local Bot API stand-in (bot.sandbox) on 127.0.0.1 as Telegram, then the image's
   default command, ``marac-bot run --webhook``, on the host network;
4. waits for ``/healthz`` to answer 200 (database reachable, dispatcher running) and for the
   image's own HEALTHCHECK to report healthy;
5. posts ``/start <invite>`` to the webhook as Telegram would (secret token header) and waits
   for the welcome message to reach the stand-in: the coordinator is enrolled;
6. a post without the secret token is refused with 403;
7. the container's log lines are JSON and do not contain the invite code;
8. ``docker stop`` (SIGTERM) ends the bot cleanly (exit code 0); the database is dropped.

It is a manual check, not part of CI: CI machines have no container engine running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from bot.sandbox import BotApiStandIn

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "container-check-secret-0123456789"
PATH = "/telegram/check"
USER_ID = 4242


def step(text: str) -> None:
    print(f"-- {text}", flush=True)


def engine_command() -> str:
    for name in ("docker", "podman"):
        if shutil.which(name):
            return name
    raise SystemExit("no container engine (docker or podman) on PATH")


def run(engine: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([engine, *args], capture_output=True, text=True, check=check)


def update(text: str, update_id: int) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": USER_ID, "is_bot": False, "first_name": "Sam", "language_code": "en"},
            "chat": {"id": USER_ID, "type": "private", "first_name": "Sam"},
            "date": int(time.time()),
            "text": text,
            "entities": entities,
        },
    }


async def wait_http(url: str, timeout: float) -> int:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    status = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    status = response.status
                    if status == 200:
                        return status
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    return status


async def check(image: str, port: int) -> None:
    engine = engine_command()
    database = f"marac_container_{os.getpid()}"
    volume = f"marac-check-{os.getpid()}"
    container = f"marac-check-{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    common = ["--network", "host", "-v", f"{volume}:/var/lib/marac-bot", "-e"]
    try:
        step(f"init in the image ({image})")
        init = run(
            engine,
            "run",
            "--rm",
            *common,
            f"MARAC_DATABASE_URL={url}",
            image,
            "init",
            "--area",
            "Container Check",
        )
        print(init.stdout.strip())
        found = re.search(r"/start (\S+)", init.stdout)
        if not found:
            raise SystemExit("init printed no invite code")
        code = found.group(1)

        async with BotApiStandIn() as server:
            server.register_user(USER_ID, "Sam")
            step(f"run --webhook against the stand-in at {server.url}")
            run(
                engine,
                "run",
                "-d",
                "--name",
                container,
                *common,
                f"MARAC_DATABASE_URL={url}",
                "-e",
                f"MARAC_TELEGRAM_TOKEN={server.token}",
                "-e",
                f"MARAC_TELEGRAM_BASE_URL={server.url}",
                "-e",
                "MARAC_WEBHOOK_PUBLIC_URL=https://marac.example.test",
                "-e",
                f"MARAC_WEBHOOK_SECRET={SECRET}",
                "-e",
                "MARAC_WEBHOOK_LISTEN=127.0.0.1",
                "-e",
                f"MARAC_WEBHOOK_PORT={port}",
                "-e",
                f"MARAC_WEBHOOK_PATH={PATH}",
                image,
            )
            status = await wait_http(f"http://127.0.0.1:{port}/healthz", 60)
            step(f"/healthz answered {status}")
            if status != 200:
                raise SystemExit(run(engine, "logs", container, check=False).stderr[-2000:])
            if server.webhook_url != f"https://marac.example.test{PATH}":
                raise SystemExit(f"setWebhook was not called as expected: {server.webhook_url!r}")
            step(f"setWebhook registered {server.webhook_url}")

            hook = f"http://127.0.0.1:{port}{PATH}"
            async with aiohttp.ClientSession() as http:
                async with http.post(hook, json=update("/start", 1)) as response:
                    step(f"post without the secret token: {response.status}")
                    if response.status != 403:
                        raise SystemExit("a post without the secret token was not refused")
                before = len(server.messages(USER_ID))
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                async with http.post(
                    hook, json=update(f"/start {code}", 2), headers=headers
                ) as response:
                    step(f"post of /start <invite> with the secret token: {response.status}")
            reply = await server.wait_until(
                lambda: [m for m in server.messages(USER_ID)[before:] if m.from_bot] or None, 20
            )
            if not reply:
                raise SystemExit("the bot did not answer /start")
            step(f"the bot answered: {(reply[0].text or '').splitlines()[0]!r}")

            health = "starting"
            deadline = time.monotonic() + 90
            while health == "starting" and time.monotonic() < deadline:
                await asyncio.sleep(2)
                inspected = run(engine, "inspect", container, check=False).stdout
                state = json.loads(inspected)[0]["State"] if inspected.strip() else {}
                health = state.get("Health", {}).get("Status", "none")
            step(f"image HEALTHCHECK: {health}")

            logs = run(engine, "logs", container, check=False)
            lines = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
            not_json = [line for line in lines if not line.startswith("{")]
            step(f"{len(lines)} log lines, {len(not_json)} not JSON")
            if code in logs.stdout + logs.stderr:
                raise SystemExit("the invite code appears in the container's logs")
            for line in not_json[:5]:
                print(f"   {line}")

            stopped = run(engine, "stop", "-t", "20", container, check=False)
            code_exit = run(
                engine, "inspect", "-f", "{{.State.ExitCode}}", container, check=False
            ).stdout.strip()
            step(f"stopped ({stopped.returncode}); exit code {code_exit}")
            if health != "healthy" or code_exit != "0" or not_json:
                raise SystemExit("container check FAILED")
        print("container check passed")
    finally:
        run(engine, "rm", "-f", container, check=False)
        run(engine, "volume", "rm", "-f", volume, check=False)
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="marac-bot:check")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    asyncio.run(check(args.image, args.port))


if __name__ == "__main__":
    main()
