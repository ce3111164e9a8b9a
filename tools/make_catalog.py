"""Regenerates resources/devices.json and links.json (the catalog is edited here, then written)."""
import json

D = []
def dev(**k): D.append(k)
dev(id="esp32-s3", name="ESP32-S3 sensor node", kind="sensor", tier="device", cpu_cores=2,
    peak_gflops_fp32=0.96, fp16_speedup=1.0, int8_speedup=4.0, memory_mb=8.5, memory_bandwidth_gb_per_s=0.48,
    power_idle_w=0.05, power_active_w=0.5, radio_power_w=0.9, battery=True, cost_usd_per_hour=0.0,
    precisions=["fp32", "int8"],
    description="Dual-core Xtensa LX7 at 240 MHz, single-precision FPU, 512 KB SRAM + 8 MB PSRAM, Wi-Fi 4; a battery sensor.",
    source="Espressif ESP32-S3 Series Datasheet v1.9 (2024): 2 cores x 240 MHz x 1 FMA/cycle; PIE vector int8 extensions; Wi-Fi TX ~0.3 A at 3.3 V")
dev(id="smart-camera-cv25", name="Smart IP camera (Ambarella CV25)", kind="camera", tier="device", cpu_cores=4,
    peak_gflops_fp32=51.2, fp16_speedup=1.0, int8_speedup=16.0, memory_mb=1024, memory_bandwidth_gb_per_s=8.5,
    power_idle_w=2.0, power_active_w=4.5, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.0,
    precisions=["fp32", "int8"],
    description="Quad Cortex-A53 at 1.6 GHz plus the CVflow int8 vision engine, LPDDR4; a typical 4 MP AI camera.",
    source="Ambarella CV25 product brief (2019): 4x Cortex-A53 1.6 GHz (8 FP32 FLOP/cycle/core NEON), CVflow ~0.8 int8 TOPS; LPDDR4 32-bit")
dev(id="phone-midrange", name="Mid-range phone (Exynos 1380)", kind="phone", tier="device", cpu_cores=8,
    peak_gflops_fp32=217.6, fp16_speedup=2.0, int8_speedup=4.0, memory_mb=6144, memory_bandwidth_gb_per_s=17.1,
    power_idle_w=0.5, power_active_w=5.0, radio_power_w=1.5, battery=True, cost_usd_per_hour=0.0,
    precisions=["fp32", "fp16", "int8"],
    description="Galaxy A54-class: 4x Cortex-A78 2.4 GHz + 4x Cortex-A55 2.0 GHz, LPDDR4X.",
    source="Samsung Exynos 1380 product page (2023); Arm Cortex-A78/A55 TRMs: 16 and 8 FP32 FLOP/cycle; LPDDR4X-4266 x32")
dev(id="phone-flagship", name="Flagship phone (Snapdragon 8 Gen 2)", kind="phone", tier="device", cpu_cores=8,
    peak_gflops_fp32=329.6, fp16_speedup=2.0, int8_speedup=4.0, memory_mb=8192, memory_bandwidth_gb_per_s=67.0,
    power_idle_w=0.6, power_active_w=8.0, radio_power_w=2.0, battery=True, cost_usd_per_hour=0.0,
    precisions=["fp32", "fp16", "int8"],
    description="Galaxy S23-class: Cortex-X3 3.2 GHz + 4x A715/A710 2.8 GHz + 3x A510 2.0 GHz, LPDDR5X-8533 (CPU figures; the NPU is not modelled).",
    source="Qualcomm Snapdragon 8 Gen 2 product brief (2022); Arm Cortex-X3/A715/A510 TRMs; LPDDR5X-8533 x64")
dev(id="raspberry-pi-4", name="Raspberry Pi 4 Model B (4 GB)", kind="edge_device", tier="edge", cpu_cores=4,
    peak_gflops_fp32=48.0, fp16_speedup=1.0, int8_speedup=2.0, memory_mb=4096, memory_bandwidth_gb_per_s=12.8,
    power_idle_w=2.7, power_active_w=6.4, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.0021,
    precisions=["fp32", "int8"],
    description="4x Cortex-A72 at 1.5 GHz, LPDDR4-3200. Cost is the $55 board amortised over 3 years.",
    source="Raspberry Pi 4 Model B product brief (2019); Cortex-A72 TRM (8 FP32 FLOP/cycle); Raspberry Pi power measurements (idle 2.7 W, stress 6.4 W)")
dev(id="raspberry-pi-5", name="Raspberry Pi 5 (8 GB)", kind="edge_device", tier="edge", cpu_cores=4,
    peak_gflops_fp32=153.6, fp16_speedup=2.0, int8_speedup=4.0, memory_mb=8192, memory_bandwidth_gb_per_s=17.1,
    power_idle_w=2.7, power_active_w=8.8, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.0030,
    precisions=["fp32", "fp16", "int8"],
    description="4x Cortex-A76 at 2.4 GHz, LPDDR4X-4267. Cost is the $80 board amortised over 3 years.",
    source="Raspberry Pi 5 product brief (2023); Cortex-A76 TRM (2x128-bit FMA = 16 FP32 FLOP/cycle)")
dev(id="jetson-nano", name="NVIDIA Jetson Nano (4 GB)", kind="edge_device", tier="edge", cpu_cores=4,
    peak_gflops_fp32=236.0, fp16_speedup=2.0, int8_speedup=2.0, memory_mb=4096, memory_bandwidth_gb_per_s=25.6,
    power_idle_w=1.3, power_active_w=10.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.0038,
    precisions=["fp32", "fp16", "int8"],
    description="128-core Maxwell GPU (472 GFLOPS fp16), 4x Cortex-A57, LPDDR4 25.6 GB/s; 10 W mode. No int8 speed-up on Maxwell: int8 runs at fp16 rate.",
    source="NVIDIA Jetson Nano Developer Kit datasheet DA_09402 (2019): 472 GFLOPS fp16, 4 GB LPDDR4 25.6 GB/s, 5/10 W modes")
dev(id="jetson-orin-nano", name="NVIDIA Jetson Orin Nano (8 GB)", kind="edge_device", tier="edge", cpu_cores=6,
    peak_gflops_fp32=1280.0, fp16_speedup=4.0, int8_speedup=15.6, memory_mb=8192, memory_bandwidth_gb_per_s=68.0,
    power_idle_w=3.0, power_active_w=15.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.019,
    precisions=["fp32", "fp16", "int8"],
    description="1024-core Ampere GPU with 32 tensor cores, 6x Cortex-A78AE, LPDDR5 68 GB/s, 7-15 W. Cost: $499 kit over 3 years.",
    source="NVIDIA Jetson Orin Nano Series datasheet DS-11105 (2023): 1.28 TFLOPS fp32, 20 TOPS dense int8 (40 sparse), 68 GB/s")
dev(id="jetson-agx-orin", name="NVIDIA Jetson AGX Orin (64 GB) vehicle computer", kind="vehicle", tier="device", cpu_cores=12,
    peak_gflops_fp32=5325.0, fp16_speedup=8.0, int8_speedup=16.0, memory_mb=65536, memory_bandwidth_gb_per_s=204.8,
    power_idle_w=15.0, power_active_w=60.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.076,
    precisions=["fp32", "fp16", "int8"],
    description="2048-core Ampere GPU with 64 tensor cores, 12x Cortex-A78AE, LPDDR5 204.8 GB/s, 15-60 W; the in-vehicle computer class of DRIVE Orin.",
    source="NVIDIA Jetson AGX Orin Series datasheet DS-10662 (2023): 5.3 TFLOPS fp32 GPU, 275 TOPS sparse int8 (GPU+DLA), 204.8 GB/s")
dev(id="intel-nuc-13-pro", name="Intel NUC 13 Pro (i7-1360P)", kind="gateway", tier="edge", cpu_cores=12,
    peak_gflops_fp32=704.0, fp16_speedup=1.0, int8_speedup=3.0, memory_mb=32768, memory_bandwidth_gb_per_s=51.2,
    power_idle_w=6.0, power_active_w=64.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.027,
    precisions=["fp32", "int8"],
    description="4 P-cores + 8 E-cores, AVX2 and AVX-VNNI, dual-channel DDR4-3200; a home or shop-floor mini PC. Cost: $700 over 3 years.",
    source="Intel ARK i7-1360P (2023): 4P at 3.0 GHz x 32 FP32 FLOP/cycle + 8E at 2.5 GHz x 16; AVX-VNNI int8; 28 W base / 64 W turbo")
dev(id="siemens-iot2050", name="Siemens SIMATIC IOT2050 Advanced", kind="gateway", tier="edge", cpu_cores=2,
    peak_gflops_fp32=17.6, fp16_speedup=1.0, int8_speedup=2.0, memory_mb=2048, memory_bandwidth_gb_per_s=6.4,
    power_idle_w=4.0, power_active_w=10.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.023,
    precisions=["fp32", "int8"],
    description="Industrial IoT gateway: TI AM6528 2x Cortex-A53 at 1.1 GHz, 2 GB DDR4, DIN rail. Cost: ~$600 over 3 years.",
    source="Siemens SIMATIC IOT2050 datasheet 6ES7647-0BA00-1YA2 (2021); TI AM6528 datasheet: 2x A53 1.1 GHz, DDR4-1600 x32")
dev(id="edge-server-2s-xeon", name="Edge server, 2x Xeon Gold 6338 (Dell R750)", kind="edge_server", tier="edge", cpu_cores=64,
    peak_gflops_fp32=8192.0, fp16_speedup=1.0, int8_speedup=4.0, memory_mb=262144, memory_bandwidth_gb_per_s=409.6,
    power_idle_w=180.0, power_active_w=700.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.46,
    precisions=["fp32", "int8"],
    description="Two 32-core Ice Lake-SP at 2.0 GHz with two AVX-512 FMA units (64 FP32 FLOP/cycle), VNNI int8, 16 channels DDR4-3200. Cost: ~$12k over 3 years.",
    source="Intel ARK Xeon Gold 6338 (2021); Dell PowerEdge R750 technical guide (2021): 8 channels DDR4-3200 per socket")
dev(id="aws-c7g-xlarge", name="AWS c7g.xlarge (Graviton3, 4 vCPU)", kind="cloud", tier="cloud", cpu_cores=4,
    peak_gflops_fp32=332.8, fp16_speedup=2.0, int8_speedup=4.0, memory_mb=8192, memory_bandwidth_gb_per_s=38.4,
    power_idle_w=0.0, power_active_w=0.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.145,
    precisions=["fp32", "fp16", "int8"],
    description="4 Neoverse V1 vCPUs at 2.6 GHz (4x128-bit FP pipes = 32 FP32 FLOP/cycle), bf16/int8 matrix instructions.",
    source="AWS EC2 On-Demand pricing, us-east-1 (2024): c7g.xlarge $0.145/h; AWS Graviton3 technical guide")
dev(id="aws-c6i-4xlarge", name="AWS c6i.4xlarge (Ice Lake, 16 vCPU)", kind="cloud", tier="cloud", cpu_cores=8,
    peak_gflops_fp32=1792.0, fp16_speedup=1.0, int8_speedup=4.0, memory_mb=32768, memory_bandwidth_gb_per_s=80.0,
    power_idle_w=0.0, power_active_w=0.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.68,
    precisions=["fp32", "int8"],
    description="8 physical Ice Lake cores at 3.5 GHz, AVX-512 (64 FP32 FLOP/cycle), VNNI int8.",
    source="AWS EC2 On-Demand pricing, us-east-1 (2024): c6i.4xlarge $0.68/h; Intel Xeon 8375C specifications")
dev(id="aws-g4dn-xlarge", name="AWS g4dn.xlarge (NVIDIA T4)", kind="cloud", tier="cloud", cpu_cores=4,
    peak_gflops_fp32=8100.0, fp16_speedup=8.0, int8_speedup=16.0, memory_mb=16384, memory_bandwidth_gb_per_s=320.0,
    power_idle_w=0.0, power_active_w=0.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.526,
    precisions=["fp32", "fp16", "int8"],
    description="One T4 GPU: 8.1 TFLOPS fp32, 65 TFLOPS fp16 and 130 TOPS int8 with tensor cores, 16 GB GDDR6 320 GB/s (memory_mb is GPU memory).",
    source="NVIDIA T4 datasheet (2019); AWS EC2 On-Demand pricing, us-east-1 (2024): g4dn.xlarge $0.526/h")
dev(id="aws-g5-xlarge", name="AWS g5.xlarge (NVIDIA A10G)", kind="cloud", tier="cloud", cpu_cores=4,
    peak_gflops_fp32=31200.0, fp16_speedup=4.0, int8_speedup=8.0, memory_mb=24576, memory_bandwidth_gb_per_s=600.0,
    power_idle_w=0.0, power_active_w=0.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=1.006,
    precisions=["fp32", "fp16", "int8"],
    description="One A10G GPU: 31.2 TFLOPS fp32, 125 TFLOPS fp16 and 250 TOPS int8 dense tensor, 24 GB GDDR6 600 GB/s.",
    source="NVIDIA A10 datasheet (2021); AWS EC2 On-Demand pricing, us-east-1 (2024): g5.xlarge $1.006/h")
dev(id="gcp-g2-standard-4", name="Google Cloud g2-standard-4 (NVIDIA L4)", kind="cloud", tier="cloud", cpu_cores=4,
    peak_gflops_fp32=30300.0, fp16_speedup=4.0, int8_speedup=8.0, memory_mb=24576, memory_bandwidth_gb_per_s=300.0,
    power_idle_w=0.0, power_active_w=0.0, radio_power_w=0.0, battery=False, cost_usd_per_hour=0.71,
    precisions=["fp32", "fp16", "int8"],
    description="One L4 GPU: 30.3 TFLOPS fp32, 121 TFLOPS fp16 and 242 TOPS int8 dense, 24 GB GDDR6 300 GB/s.",
    source="NVIDIA L4 datasheet (2023); Google Cloud GPU pricing, us-central1 (2024): g2-standard-4 about $0.71/h")

L = []
def link(**k): L.append(k)
link(id="wifi5", name="Wi-Fi 5 (802.11ac, 2x2)", medium="wifi", bandwidth_ab_mbps=300, bandwidth_ba_mbps=300, latency_ms=2.0, jitter_ms=1.5, loss_pct=0.2,
     description="Indoor 802.11ac 2x2 at 80 MHz: 867 Mbps PHY, ~300 Mbps TCP throughput.",
     source="IEEE 802.11ac-2013 (VHT MCS9 2x2 80 MHz = 866.7 Mbps PHY); typical TCP goodput ~35% of PHY")
link(id="wifi6", name="Wi-Fi 6 (802.11ax, 2x2)", medium="wifi", bandwidth_ab_mbps=600, bandwidth_ba_mbps=600, latency_ms=1.5, jitter_ms=1.0, loss_pct=0.1,
     description="Indoor 802.11ax 2x2 at 80 MHz: 1201 Mbps PHY, ~600 Mbps TCP throughput.",
     source="IEEE 802.11ax-2021 (HE MCS11 2x2 80 MHz = 1201 Mbps PHY); Wi-Fi Alliance Wi-Fi 6 overview")
link(id="lte", name="LTE (Cat 4 UE, good signal)", medium="lte", bandwidth_ab_mbps=10, bandwidth_ba_mbps=40, latency_ms=25.0, jitter_ms=8.0, loss_pct=0.5, cost_usd_per_gb=1.0,
     description="Device uplink 10 Mbps / downlink 40 Mbps, ~50 ms RTT to the operator core. Cost: IoT data plan pricing.",
     source="3GPP TS 36.306 UE Category 4 (50/150 Mbps peak); Opensignal mobile network experience reports (typical LTE 10/40 Mbps, 50 ms)")
link(id="5g", name="5G NR (mid-band)", medium="5g", bandwidth_ab_mbps=60, bandwidth_ba_mbps=300, latency_ms=10.0, jitter_ms=3.0, loss_pct=0.2, cost_usd_per_gb=0.5,
     description="Mid-band 5G NR SA: uplink ~60 Mbps, downlink ~300 Mbps, ~20 ms RTT.",
     source="3GPP TS 38.306; Opensignal 5G experience reports (2024): typical 5G download ~300 Mbps, upload ~60 Mbps")
link(id="ethernet-1g", name="Ethernet 1 Gbit/s", medium="ethernet", bandwidth_ab_mbps=940, bandwidth_ba_mbps=940, latency_ms=0.2, jitter_ms=0.05, loss_pct=0.0,
     description="1000BASE-T on a LAN switch: ~940 Mbps TCP goodput, sub-millisecond latency.",
     source="IEEE 802.3ab 1000BASE-T; TCP/IP header overhead leaves ~941 Mbps goodput")
link(id="auto-ethernet-1g", name="Automotive Ethernet 1000BASE-T1", medium="ethernet", bandwidth_ab_mbps=940, bandwidth_ba_mbps=940, latency_ms=0.05, jitter_ms=0.01, loss_pct=0.0,
     description="In-vehicle single-pair Ethernet between cameras and the vehicle computer.",
     source="IEEE 802.3bp-2016 1000BASE-T1")
link(id="c-v2x", name="C-V2X / 5G sidelink to roadside unit", medium="5g", bandwidth_ab_mbps=30, bandwidth_ba_mbps=30, latency_ms=5.0, jitter_ms=2.0, loss_pct=1.0,
     description="Vehicle to roadside edge server over PC5 / NR sidelink.",
     source="3GPP TS 22.186 (eV2X requirements: 3-10 ms latency, tens of Mbps); 5GAA C-V2X deployment reports")
link(id="metro-fiber-10g", name="Metro fiber 10 Gbit/s", medium="fiber", bandwidth_ab_mbps=9400, bandwidth_ba_mbps=9400, latency_ms=1.0, jitter_ms=0.1, loss_pct=0.0,
     description="Dark fiber or wavelength service across a metro area (~100 km, 5 us/km).",
     source="ITU-T G.652 fiber propagation ~5 us/km; IEEE 802.3ae 10GBASE-LR")
link(id="home-broadband", name="Home broadband (cable)", medium="wan", bandwidth_ab_mbps=20, bandwidth_ba_mbps=300, latency_ms=15.0, jitter_ms=4.0, loss_pct=0.1, cost_usd_per_gb=0.09,
     description="Residential DOCSIS 3.1: 300 Mbps down / 20 Mbps up, ~30 ms RTT to a cloud region. Cost: cloud data-transfer-out price.",
     source="FCC Measuring Broadband America report (2023); AWS data transfer out pricing (first 10 TB $0.09/GB)")
link(id="wan-business", name="Business WAN to cloud region", medium="wan", bandwidth_ab_mbps=200, bandwidth_ba_mbps=200, latency_ms=20.0, jitter_ms=2.0, loss_pct=0.05, cost_usd_per_gb=0.09,
     description="Symmetric business internet or VPN to the nearest cloud region, ~40 ms RTT.",
     source="AWS data transfer out pricing (2024, $0.09/GB); typical enterprise internet SLA 200 Mbps, 40 ms RTT")
link(id="dc-10g", name="Datacenter network 10 Gbit/s", medium="ethernet", bandwidth_ab_mbps=9400, bandwidth_ba_mbps=9400, latency_ms=0.05, jitter_ms=0.01, loss_pct=0.0,
     description="Between VMs in one cloud availability zone.",
     source="AWS EC2 network performance ('up to 12.5 Gbit/s' instances); intra-AZ RTT ~100 us")
for name, items in (("devices.json", D), ("links.json", L)):
    with open(f"resources/{name}", "w") as fh:
        fh.write(json.dumps({"schema_version": 1, "presets": items}, indent=2) + "\n")
print(len(D), len(L))
