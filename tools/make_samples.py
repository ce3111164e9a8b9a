"""Regenerates the sample scenarios in sample_topologies/ from catalog presets."""
from planner_app.core.topology.catalog import load_catalog
from planner_app.core.topology.records import Device, Note, Position, Topology, Workload
from planner_app.core.topology.io import save_topology

cat = load_catalog()
def D(pid, did, name, x, y, zone="", **upd):
    d = cat.device_preset(pid).make_device(did, name=name, x=x, y=y)
    return d.model_copy(update=dict(privacy_zone=zone, **upd))
def L(pid, lid, a, b):
    return cat.link_preset(pid).make_link(lid, a, b)

# smart home
devs = [D("smart-camera-cv25", "doorbell", "Doorbell camera", 80, 120, "home"),
        D("phone-flagship", "phone", "Owner's phone", 80, 320, "home"),
        D("raspberry-pi-5", "hub", "Smart-home hub (Pi 5)", 380, 220, "home"),
        D("intel-nuc-13-pro", "home-server", "Home server (NUC)", 680, 220, "home"),
        D("aws-g4dn-xlarge", "cloud-gpu", "Cloud GPU (T4)", 980, 140),
        D("aws-c7g-xlarge", "cloud-cpu", "Cloud CPU (Graviton3)", 980, 320)]
links = [L("wifi6", "doorbell-wifi", "doorbell", "hub"), L("wifi5", "phone-wifi", "phone", "hub"),
         L("ethernet-1g", "hub-lan", "hub", "home-server"),
         L("home-broadband", "home-uplink", "home-server", "cloud-gpu"),
         L("dc-10g", "cloud-dc", "cloud-gpu", "cloud-cpu")]
wls = [Workload(name="doorbell-person-detection", source="doorbell", model="sample:yolo_detector", rate_rps=5, slo_ms=250,
                accuracy_budget_pct=2.0, consumer="phone", privacy="none"),
       Workload(name="hub-keyword-spotting", source="hub", model="sample:lstm_kws", rate_rps=10, slo_ms=100, accuracy_budget_pct=1.0),
       Workload(name="photo-tagging", source="phone", model="sample:mobilenet_v2", rate_rps=0.5, slo_ms=500, accuracy_budget_pct=1.0)]
t = Topology(name="Smart home", description="Voice and vision at home: a doorbell camera and a phone on Wi-Fi, a Raspberry Pi 5 hub, a home server behind a cable uplink, and a cloud region.",
             devices=devs, links=links, workloads=wls,
             notes=[Note(id="note-1", text="Cable uplink: 20 Mbit/s up, 300 down", position=Position(x=760, y=60))])
save_topology(t, "sample_topologies/smart_home.json")

# autonomous driving
devs = [D("smart-camera-cv25", "front-cam", "Front camera", 80, 100, "vehicle"),
        D("smart-camera-cv25", "rear-cam", "Rear camera", 80, 300, "vehicle"),
        D("jetson-agx-orin", "vehicle-computer", "Vehicle computer (AGX Orin)", 380, 200, "vehicle"),
        D("edge-server-2s-xeon", "roadside-server", "Roadside edge server", 680, 120),
        D("aws-g5-xlarge", "cloud-gpu", "Cloud GPU (A10G)", 980, 200)]
links = [L("auto-ethernet-1g", "front-cam-bus", "front-cam", "vehicle-computer"),
         L("auto-ethernet-1g", "rear-cam-bus", "rear-cam", "vehicle-computer"),
         L("c-v2x", "v2x", "vehicle-computer", "roadside-server"),
         L("5g", "vehicle-5g", "vehicle-computer", "cloud-gpu"),
         L("metro-fiber-10g", "roadside-backhaul", "roadside-server", "cloud-gpu")]
wls = [Workload(name="front-object-detection", source="front-cam", model="sample:yolo_detector", rate_rps=30, slo_ms=50,
                accuracy_budget_pct=1.0, consumer="vehicle-computer"),
       Workload(name="rear-scene-classification", source="rear-cam", model="sample:resnet18", rate_rps=10, slo_ms=100,
                accuracy_budget_pct=1.0, consumer="vehicle-computer")]
t = Topology(name="Autonomous driving", description="Two cameras on automotive Ethernet, an AGX Orin vehicle computer, a roadside edge server over C-V2X, and a cloud GPU over 5G.",
             devices=devs, links=links, workloads=wls)
save_topology(t, "sample_topologies/autonomous_driving.json")

# hospital imaging
us = Device(id="ultrasound", name="Ultrasound cart (Core i5)", kind="camera", tier="device", cpu_cores=4,
            peak_gflops_fp32=300.0, fp16_speedup=1.0, int8_speedup=3.0, memory_mb=16384, memory_bandwidth_gb_per_s=38.4,
            power_idle_w=40, power_active_w=120, precisions=["fp32", "int8"], privacy_zone="hospital",
            position=Position(x=80, y=120))
devs = [us,
        D("intel-nuc-13-pro", "reading-room", "Radiologist workstation", 80, 320, "hospital"),
        D("edge-server-2s-xeon", "hospital-edge", "Hospital edge server", 400, 220, "hospital"),
        D("aws-g5-xlarge", "cloud-gpu", "Cloud GPU (A10G)", 760, 220)]
links = [L("ethernet-1g", "modality-lan", "ultrasound", "hospital-edge"),
         L("ethernet-1g", "reading-lan", "reading-room", "hospital-edge"),
         L("wan-business", "hospital-wan", "hospital-edge", "cloud-gpu")]
wls = [Workload(name="image-triage", source="ultrasound", model="sample:resnet18", rate_rps=2, slo_ms=500,
                accuracy_budget_pct=0.5, consumer="reading-room", privacy="raw_input_in_zone"),
       Workload(name="report-coding", source="reading-room", model="sample:transformer_encoder", rate_rps=0.5, slo_ms=1000,
                accuracy_budget_pct=1.0, privacy="raw_input_in_zone")]
t = Topology(name="Hospital imaging", description="An imaging device and a reading room on the hospital LAN, a hospital edge server, and a cloud GPU. Raw images and reports must stay in the hospital zone.",
             devices=devs, links=links, workloads=wls,
             notes=[Note(id="note-1", text="Raw images never leave the 'hospital' zone", position=Position(x=360, y=40))])
save_topology(t, "sample_topologies/hospital_imaging.json")

# smart factory
devs, links, wls = [], [], []
for i in range(6):
    line = "A" if i < 3 else "B"
    cid = f"cam-{line.lower()}{i % 3 + 1}"
    devs.append(D("smart-camera-cv25", cid, f"Inspection camera {line}{i % 3 + 1}", 80, 60 + i * 90, "factory"))
devs += [D("intel-nuc-13-pro", "line-a-edge", "Line A edge PC", 380, 150, "factory"),
         D("siemens-iot2050", "line-b-gateway", "Line B gateway", 380, 420, "factory"),
         D("edge-server-2s-xeon", "plant-server", "Plant edge server", 660, 290, "factory"),
         D("aws-c6i-4xlarge", "cloud-cpu", "Cloud CPU (c6i)", 940, 290)]
for d in devs[:6]:
    edge = "line-a-edge" if d.id.startswith("cam-a") else "line-b-gateway"
    links.append(L("ethernet-1g", f"{d.id}-lan", d.id, edge))
    wls.append(Workload(name=f"inspect-{d.id}", source=d.id, model="sample:mobilenet_v2", rate_rps=10, slo_ms=100,
                        accuracy_budget_pct=1.0, consumer="plant-server"))
links += [L("ethernet-1g", "line-a-uplink", "line-a-edge", "plant-server"),
          L("ethernet-1g", "line-b-uplink", "line-b-gateway", "plant-server"),
          L("wan-business", "plant-wan", "plant-server", "cloud-cpu")]
t = Topology(name="Smart factory", description="Six inspection cameras on two production lines sharing a line edge PC, a line gateway and a plant edge server, with a cloud region over business WAN.",
             devices=devs, links=links, workloads=wls)
save_topology(t, "sample_topologies/smart_factory.json")
print("ok")
