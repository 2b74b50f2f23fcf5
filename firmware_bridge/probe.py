"""Scan the bus: which chips answer on which multiplexer channel and address.

For every channel (0..7, through the TCA9548A) and every address an IMU of a known
type can have, read that chip type's WHO_AM_I register. A device that answers with the
expected value is identified; one that answers with another value is reported as
unknown (with the value: it is often a clone or a different part). Identified chips can
run their built-in self-test (they must be still). Results are matched against the
sensor map: sensors the map expects but the scan did not find are listed as missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from firmware_bridge.bus import LockedBus
from firmware_bridge.drivers import DRIVERS
from firmware_bridge.errors import BusError, HardwareError, WiringError
from firmware_bridge.sensor_map import SensorMap
from firmware_bridge.tca9548a import N_CHANNELS, TCA9548A


@dataclass(slots=True)
class ProbeEntry:
    """One address that acknowledged."""

    channel: int | None
    address: int
    chip: str | None  # None: answered, but WHO_AM_I matched no known chip
    who_am_i: int | None
    self_test: str  # "pass", "fail", "skipped", "error: ..."
    sensor: str | None = None  # name in the sensor map
    segment: str | None = None
    expected_chip: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["address"] = f"0x{self.address:02X}"
        d["who_am_i"] = None if self.who_am_i is None else f"0x{self.who_am_i:02X}"
        return d


@dataclass(slots=True)
class ProbeReport:
    bus: str
    mux_address: int | None
    mux_found: bool
    devices: list[ProbeEntry] = field(default_factory=list)
    missing: list[dict[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every mapped sensor found with the right chip and no failed self-test."""
        return (
            self.mux_found
            and not self.missing
            and not self.errors
            and all(
                d.self_test in ("pass", "skipped") for d in self.devices if d.sensor is not None
            )
            and all(d.chip == d.expected_chip for d in self.devices if d.sensor is not None)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "bus": self.bus,
            "mux": {
                "address": None if self.mux_address is None else f"0x{self.mux_address:02X}",
                "found": self.mux_found,
            },
            "devices": [d.as_dict() for d in self.devices],
            "missing": self.missing,
            "errors": self.errors,
            "ok": self.ok,
        }

    def table(self) -> str:
        """Human-readable table, one line per device."""
        head = ("ch", "addr", "chip", "WHO_AM_I", "self-test", "sensor", "segment", "note")
        rows = [head]
        for d in self.devices:
            rows.append(
                (
                    "-" if d.channel is None else str(d.channel),
                    f"0x{d.address:02X}",
                    d.chip or "unknown",
                    "-" if d.who_am_i is None else f"0x{d.who_am_i:02X}",
                    d.self_test,
                    d.sensor or "-",
                    d.segment or "-",
                    d.note,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        mux = (
            f"TCA9548A at 0x{self.mux_address:02X}: {'found' if self.mux_found else 'NOT FOUND'}"
            if self.mux_address is not None
            else "no multiplexer configured"
        )
        out = [f"bus {self.bus}; {mux}", *lines]
        for m in self.missing:
            out.append(f"MISSING {m['sensor']} ({m['segment']}): {m['why']}")
        out.extend(f"ERROR {e}" for e in self.errors)
        out.append("all sensors found" if self.ok else "PROBLEMS found (see above)")
        return "\n".join(out)


def _candidates() -> list[tuple[int, str]]:
    """(address, chip) pairs to try, from the drivers' address lists."""
    out = []
    for chip, cls in DRIVERS.items():
        for addr in cls.ADDRESSES:
            out.append((addr, chip))
    return sorted(out)


def scan(
    bus: LockedBus,
    sensor_map: SensorMap | None = None,
    *,
    mux_address: int | None = 0x70,
    channels: range | list[int] = range(N_CHANNELS),
    self_test: bool = True,
    bus_name: str = "i2c",
    sleep: Callable[[float], None] = time.sleep,
) -> ProbeReport:
    """Scan and identify; never raises for a missing device (it is reported).

    ``sleep`` is used by the self-test's settling waits (a no-op on an emulated bus).
    """
    if sensor_map is not None:
        mux_address = sensor_map.mux_address
    report = ProbeReport(bus=bus_name, mux_address=mux_address, mux_found=False)
    mux = None
    if mux_address is not None:
        mux = TCA9548A(bus, mux_address)
        try:
            mux.probe()
            report.mux_found = True
        except WiringError as exc:
            report.errors.append(str(exc))
    slots: list[int | None] = list(channels) if report.mux_found else []
    if mux_address is None or not report.mux_found:
        slots = [None]  # without a mux only the root segment can be scanned
    expected = {(s.channel, s.address): s for s in (sensor_map.sensors if sensor_map else [])}
    seen: set[tuple[int | None, int]] = set()
    for ch in slots:
        for addr, chip in _candidates():
            if (ch, addr) in seen:
                continue
            driver = DRIVERS[chip](
                bus,
                addr,
                mux=mux if ch is not None else None,
                channel=ch,
            )
            try:
                value = driver.who_am_i()
            except BusError:
                continue  # nobody at this address for this register read
            seen.add((ch, addr))
            entry = _identify(bus, mux, ch, addr, value)
            s = expected.get((ch, addr))
            if s is not None:
                entry.sensor, entry.segment, entry.expected_chip = s.label, s.segment, s.chip
                if entry.chip != s.chip:
                    entry.note = f"sensor map expects {s.chip}; check the chip type or the wiring"
            if self_test and entry.chip is not None:
                entry.self_test = _run_self_test(bus, mux, ch, addr, entry.chip, sleep)
            report.devices.append(entry)
    if mux is not None and report.mux_found:
        try:
            mux.disable_all()
        except BusError as exc:
            report.errors.append(f"could not disconnect the mux channels: {exc}")
    found = {(d.channel, d.address) for d in report.devices}
    for (ch, addr), s in expected.items():
        if (ch, addr) not in found:
            report.missing.append(
                {
                    "sensor": s.label,
                    "segment": s.segment,
                    "channel": ch,
                    "address": f"0x{addr:02X}",
                    "chip": s.chip,
                    "why": f"nothing answers at {s.where()}: check the cable of this sensor, "
                    "its power and its address pin",
                }
            )
    return report


def _identify(
    bus: LockedBus, mux: TCA9548A | None, ch: int | None, addr: int, first_value: int
) -> ProbeEntry:
    """Try every chip type whose address list has ``addr``; first match wins."""
    tried: list[str] = []
    for chip, cls in DRIVERS.items():
        if addr not in cls.ADDRESSES:
            continue
        driver = cls(bus, addr, mux=mux if ch is not None else None, channel=ch)
        try:
            value = driver.who_am_i()
        except BusError:
            continue
        tried.append(f"{chip} reg 0x{cls.WHO_AM_I_REG:02X} = 0x{value:02X}")
        if value == cls.WHO_AM_I_VALUE:
            return ProbeEntry(ch, addr, chip, value, "skipped")
    return ProbeEntry(
        ch,
        addr,
        None,
        first_value,
        "skipped",
        note="unknown chip (" + "; ".join(tried) + ")",
    )


def _run_self_test(
    bus: LockedBus,
    mux: TCA9548A | None,
    ch: int | None,
    addr: int,
    chip: str,
    sleep: Callable[[float], None],
) -> str:
    driver = DRIVERS[chip](bus, addr, mux=mux if ch is not None else None, channel=ch, sleep=sleep)
    try:
        driver.setup()
        result = driver.self_test()
    except HardwareError as exc:
        return f"error: {exc}"
    return "pass" if result.passed else "fail"
