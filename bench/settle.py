"""Shared by the scripted benches: wait until a daemon is idle. After a
fill the store indexes the new mail for SEARCH in the writer's lulls,
which would otherwise run during (and disturb) what is measured."""
import os
import time


def cpu(pid):
	"""CPU seconds (user + system) a process has used."""
	with open(f"/proc/{pid}/stat") as fh:
		f = fh.read().rsplit(")", 1)[1].split()
	return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid, limit=120.0):
	"""Return once pid used under 20 ms of CPU in half a second (or at
	the limit)."""
	deadline = time.monotonic() + limit
	last = cpu(pid)
	while time.monotonic() < deadline:
		time.sleep(0.5)
		now = cpu(pid)
		if now - last < 0.02:
			return
		last = now
