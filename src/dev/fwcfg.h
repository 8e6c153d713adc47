/* A read-only fw_cfg, QEMU's firmware configuration interface, at QEMU's
 * x86 ports: the selector at 0x510 (16-bit write) and the data at 0x511
 * (8-bit reads, each the next byte of the selected item; past its end,
 * 0). The DMA interface is not given (FW_CFG_ID says so: bit 0 only).
 * Items: the signature "QEMU" (0x00), ID (0x01), UUID (0x02, zeros),
 * RAM size (0x03, 64-bit), nographic (0x04), CPU count (0x05, 16-bit),
 * maximum CPU count (0x0f, 16-bit) and the file directory (0x19, a
 * big-endian count, 0: no files). Test kernels written for QEMU read the
 * CPU count here to know how many CPUs to start. Writes to the data port
 * are ignored, as on QEMU since 2.4. Locking: one mutex per device (the
 * selector and the offset are one state that several vCPUs may race
 * on; QEMU has the same race, the guest serializes). */
#ifndef AMALGAM_DEV_FWCFG_H
#define AMALGAM_DEV_FWCFG_H

#include <stdint.h>

#define FWCFG_PORT_SEL 0x510
#define FWCFG_PORT_DATA 0x511

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_UUID 0x02
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NOGRAPHIC 0x04
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19

struct iobus;
struct fwcfg;

struct fwcfg_config {
	uint16_t nr_cpus, max_cpus;
	uint64_t ram_size;
};

struct fwcfg *fwcfg_new(const struct fwcfg_config *cfg);
int fwcfg_register(struct fwcfg *f, struct iobus *bus);
void fwcfg_free(struct fwcfg *f);

#endif
