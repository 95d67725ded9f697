"""Backup and restore: SQLite's online backup API (consistent while the server runs), and
pg_dump / pg_restore for PostgreSQL. A restore is checked with `medsettle verify`."""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupFailed(RuntimeError):
    pass


def _sqlite_path(url: str) -> str:
    return make_url(url).database or ""


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:  # the newest client dumps any older server
        return candidates[-1]
    if found:
        return found
    raise BackupFailed(f"找不到{name}（请安装PostgreSQL客户端）")


def backup(url: str, dest: Path) -> Path:
    dest = Path(dest)
    if url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return dest
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dest}", _libpq(url)])
    return dest


def restore(url: str, src: Path) -> None:
    src = Path(src)
    if not src.exists():
        raise BackupFailed(f"备份文件{src}不存在")
    if url.startswith("sqlite"):
        source = sqlite3.connect(src)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    _run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={_libpq(url)}",
            str(src),
        ]
    )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(f"{Path(command[0]).name} 失败：{done.stderr.strip()[-500:]}")
