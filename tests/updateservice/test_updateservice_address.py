from actors.updateservice.address import update_service_host_port, update_service_url
from emulator.config import parse_cluster_config


def test_subnet_mode_uses_the_last_host_of_the_subnet():
    cfg = parse_cluster_config("cluster: x\nnodes: 3\nnetwork: {subnet: 127.0.64.0/24}\n")
    assert update_service_url(cfg) == "http://127.0.64.254:8000/v1/update/"


def test_default_subnet():
    cfg = parse_cluster_config("cluster: x\nnodes: 3\n")
    assert update_service_host_port(cfg) == ("127.0.10.254", 8000)


def test_full_subnet_shares_the_first_node_address():
    cfg = parse_cluster_config("cluster: x\nnodes: 2\nnetwork: {subnet: 127.0.64.0/30}\n")
    host, _ = update_service_host_port(cfg)
    assert host == cfg.nodes[0].address


def test_port_offset_mode_is_past_the_node_ports():
    cfg = parse_cluster_config("cluster: x\nnodes: 3\nnetwork: {port-offset: 20000}\n")
    host, port = update_service_host_port(cfg)
    assert host == "127.0.0.1"
    assert port > max(n.peer_port for n in cfg.nodes)
    assert update_service_url(cfg) == f"http://127.0.0.1:{port}/v1/update/"
