"""
Tests for L{echohub.faults._spec}: the fault grammar and its bounds.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.faults import (
    KINDS,
    FaultBounds,
    FaultError,
    FaultPolicy,
    kindNames,
    parseFault,
    parsePolicy,
)


class ParseTests(SynchronousTestCase):
    """
    One grammar: a toxic's name, bare or with its first parameter's value,
    then its other parameters; toxiproxy's units, or a duration's own.
    """

    def test_issueExample(self) -> None:
        """
        C{latency=200ms jitter=50ms} is a latency toxic of 200 ms +/- 50 ms.
        """
        fault = parseFault("latency=200ms jitter=50ms")
        latency = fault.get("latency")
        assert latency is not None
        self.assertEqual((latency["latency"], latency["jitter"]), (200, 50))
        self.assertEqual(latency.seconds("jitter"), 0.05)

    def test_toxiproxyUnits(self) -> None:
        """
        A bare number is in toxiproxy's unit: ms for latency, us for the
        slicer's delay, KB/s for bandwidth, bytes for limit_data.
        """
        fault = parseFault(
            "latency=100,slicer,average_size=16,size_variation=4,delay=500,"
            "bandwidth=20,limit_data=300"
        )
        slicer = fault.get("slicer")
        assert slicer is not None
        self.assertEqual(slicer.seconds("delay"), 0.0005)
        self.assertEqual(fault.kinds, ("latency", "slicer", "bandwidth", "limit_data"))
        self.assertEqual(fault.get("bandwidth")["rate"], 20)  # type: ignore[index]
        self.assertEqual(fault.get("limit_data")["bytes"], 300)  # type: ignore[index]

    def test_units(self) -> None:
        """
        A duration may carry its unit: s, ms, us or µs.
        """
        self.assertEqual(parseFault("timeout=1.5s").get("timeout")["timeout"], 1500)  # type: ignore[index]
        self.assertAlmostEqual(
            parseFault("latency=250us").get("latency")["latency"],  # type: ignore[index]
            0.25,
        )
        slicer = parseFault("slicer average_size=8 delay=2ms").get("slicer")
        assert slicer is not None
        self.assertEqual(slicer["delay"], 2000)

    def test_sharedParameterNames(self) -> None:
        """
        A parameter belongs to the toxic before it when that toxic has it
        (C{reset_peer timeout=}); otherwise a toxic's name starts a new one.
        """
        fault = parseFault("reset_peer timeout=100")
        self.assertEqual(fault.kinds, ("reset_peer",))
        fault = parseFault("latency=100 timeout=300")
        self.assertEqual(fault.kinds, ("latency", "timeout"))

    def test_describe(self) -> None:
        """
        A fault describes itself in the grammar, and parses back the same.
        """
        fault = parseFault("latency=200,jitter=50,slicer=16")
        self.assertEqual(parseFault(fault.describe()), fault)

    def test_errors(self) -> None:
        """
        Each mistake names the item.
        """
        for text, words in [
            ("", "empty"),
            ("lag=200", "not a toxic"),
            ("latency=fast", "duration"),
            ("latency=1 latency=2", "twice"),
            ("latency=1,jitter=1,jitter=2", "twice"),
            ("limit_data=-1", "whole number"),
            ("bandwidth", "needs rate"),
            ("bandwidth=0", "above 0"),
            ("slicer=4,size_variation=4", "under average_size"),
            ("slicer=0", "at least 1"),
        ]:
            with self.assertRaises(FaultError, msg=text) as caught:
                parseFault(text)
            self.assertIn(words, str(caught.exception), text)


class BoundsTests(SynchronousTestCase):
    """
    A fault never exceeds its listener's bounds.
    """

    def test_delay(self) -> None:
        """
        Every duration, and latency plus jitter, is at most C{maxDelay}.
        """
        bounds = FaultBounds(maxDelay=1.0)
        parseFault("latency=1000", bounds)
        for text in (
            "latency=1001",
            "latency=800,jitter=300",
            "timeout=2s",
            "slow_close=5000",
        ):
            self.assertRaises(FaultError, parseFault, text, bounds)

    def test_rateAndBytes(self) -> None:
        """
        A rate is at least C{minRate}; a byte count at most C{maxBytes}.
        """
        bounds = FaultBounds(minRate=5, maxBytes=100)
        self.assertRaises(FaultError, parseFault, "bandwidth=4", bounds)
        self.assertRaises(FaultError, parseFault, "limit_data=101", bounds)
        parseFault("bandwidth=5,limit_data=100", bounds)

    def test_http(self) -> None:
        """
        An HTTP response has no slow_close or refuse_read, and its timeout is
        above 0.
        """
        bounds = FaultBounds(http=True)
        for text in ("slow_close=10", "refuse_read", "timeout=0"):
            self.assertRaises(FaultError, parseFault, text, bounds)
        self.assertEqual(
            set(kindNames(http=True)),
            {k for k in KINDS if k not in ("slow_close", "refuse_read")},
        )


class PolicyTests(SynchronousTestCase):
    """
    A listener's policy: off unless configured; clients only where allowed.
    """

    def test_off(self) -> None:
        """
        No option, or C{faults=off}, is no policy.
        """
        self.assertIsNone(parsePolicy({}, FaultBounds()))
        self.assertIsNone(parsePolicy({"faults": "off"}, FaultBounds()))

    def test_client(self) -> None:
        """
        C{faults=client} lets clients choose within the bounds.
        """
        policy = parsePolicy({"faults": "client"}, FaultBounds(maxDelay=1))
        assert policy is not None
        self.assertEqual(policy.choose("latency=10").kinds, ("latency",))
        self.assertRaises(FaultError, policy.choose, "latency=2s")

    def test_listenerOnly(self) -> None:
        """
        A listener's own fault lets no client choose; a service that takes
        no client faults refuses C{faults=client}.
        """
        policy = parsePolicy({"fault": "latency=5"}, FaultBounds())
        assert policy is not None
        self.assertRaises(FaultError, policy.choose, "latency=1")
        self.assertRaises(
            FaultError,
            parsePolicy,
            {"faults": "client"},
            FaultBounds(clients=False),
        )
        self.assertRaises(FaultError, parsePolicy, {"faults": "yes"}, FaultBounds())
        self.assertFalse(FaultPolicy().active)
