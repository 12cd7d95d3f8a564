"""TLS towards the broker: verified against the configured CA, refused otherwise."""

from pathlib import Path

import pytest
import trustme

from edge.app import EdgeService
from edge.config import load_secrets
from edge.events.topics import Leaf
from tests import samples
from tests.broker import HOST, Mosquitto, TlsFiles, free_port
from tests.collector import Collector, wait_until
from tests.conftest import make_config


def _write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def ca() -> trustme.CA:
    """The test's own certificate authority."""
    return trustme.CA()


@pytest.fixture
def tls_broker(tmp_path: Path, ca: trustme.CA, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A broker whose TLS listener uses a CA made for this test, plus a plain listener for
    the test's own subscriber. Marked `mutual_tls`, it also requires client certificates."""
    server = ca.issue_cert(HOST, "localhost")
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    cert_file = tls_dir / "server.pem"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    key_file = tls_dir / "server.key"
    server.private_key_pem.write_to_path(str(key_file))
    plain_port = free_port()
    broker = Mosquitto(
        tmp_path / "broker",
        tls=TlsFiles(_write_ca(ca, tls_dir / "ca.pem"), cert_file, key_file),
        extra_conf=f"listener {plain_port} {HOST}\nallow_anonymous true\n",
        tls_extra="require_certificate true\n"
        if request.node.get_closest_marker("mutual_tls")
        else "",
        extra_ports=(plain_port,),
    )
    broker.start()
    yield broker, plain_port, tls_dir / "ca.pem"
    broker.stop()


def test_events_flow_over_tls_verified_against_the_configured_ca(
    tls_broker: tuple[Mosquitto, int, Path], tmp_path: Path
) -> None:
    """Mood events cross store networks; they must only go to the genuine broker."""
    broker, plain_port, ca_file = tls_broker
    collector = Collector(plain_port, "moodsense/v1/+/+/mood")
    config = make_config(
        tmp_path, broker.port, mqtt={"tls": {"enabled": True, "ca_file": str(ca_file)}}
    )
    service = EdgeService(config, load_secrets(config))
    service.start()
    payload = samples.mood()
    service.emit(Leaf.MOOD, payload)
    received = collector.wait_for(lambda m: len(m) >= 1)
    assert received[0].json()["id"] == payload.id
    service.shutdown()
    collector.close()


def test_a_broker_certificate_from_another_ca_is_refused_and_events_stay_queued(
    tls_broker: tuple[Mosquitto, int, Path], tmp_path: Path
) -> None:
    """A man-in-the-middle broker must never receive events; none may be lost either."""
    broker, plain_port, _ca_file = tls_broker
    wrong_ca = _write_ca(trustme.CA(), tmp_path / "wrong-ca.pem")
    collector = Collector(plain_port, "moodsense/v1/+/+/mood")
    config = make_config(
        tmp_path, broker.port, mqtt={"tls": {"enabled": True, "ca_file": str(wrong_ca)}}
    )
    service = EdgeService(config, load_secrets(config))
    service.start()
    service.emit(Leaf.MOOD, samples.mood())
    assert service.publisher.flush(10)
    # Give the client several connection attempts (1 s backoff) to prove it keeps refusing.
    wait_until(lambda: broker.log_path.read_text().count("alert unknown ca") >= 2, 15)
    assert service.link is not None and not service.link.connected
    assert service.health().outbox.depth == 1
    assert collector.snapshot() == []
    service.shutdown()
    collector.close()


def _client_files(ca: trustme.CA, directory: Path) -> tuple[Path, Path]:
    client = ca.issue_cert("kiosk-3.store-7")
    cert_file, key_file = directory / "client.pem", directory / "client.key"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in client.cert_chain_pems))
    client.private_key_pem.write_to_path(str(key_file))
    return cert_file, key_file


@pytest.mark.mutual_tls
@pytest.mark.parametrize("with_certificate", [True, False])
def test_mutual_tls_uses_the_client_certificate_when_configured(
    tls_broker: tuple[Mosquitto, int, Path], ca: trustme.CA, tmp_path: Path, with_certificate: bool
) -> None:
    """Brokers that authenticate devices by certificate accept ours, and only with it."""
    broker, plain_port, ca_file = tls_broker
    tls: dict[str, str | bool] = {"enabled": True, "ca_file": str(ca_file)}
    if with_certificate:
        cert_file, key_file = _client_files(ca, tmp_path)
        tls |= {"client_cert_file": str(cert_file), "client_key_file": str(key_file)}
    collector = Collector(plain_port, "moodsense/v1/+/+/mood")
    config = make_config(tmp_path, broker.port, mqtt={"tls": tls})
    service = EdgeService(config, load_secrets(config))
    service.start()
    service.emit(Leaf.MOOD, samples.mood())
    if with_certificate:
        collector.wait_for(lambda m: len(m) == 1)
    else:
        wait_until(lambda: "certificate" in broker.log_path.read_text(), 15)
        assert collector.snapshot() == [] and service.health().outbox.depth == 1
    service.shutdown()
    collector.close()
