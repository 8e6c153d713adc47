/* Does KVM really work on this host? Opening /dev/kvm is not enough: a
 * host may list the device yet refuse to create a VM (no VT-x/AMD-V, the
 * module bound elsewhere, a PVM host kernel that is itself a guest), or
 * create one that cannot run. kvm_probe creates a VM with one vCPU and a
 * page of real-mode code, runs it to a few port writes and times the exit
 * round trip, which tells hardware KVM (a few µs) from nested or software
 * KVM (tens to hundreds). Used by 'amalgam probe', which scripts/test and
 * scripts/demo ask before they choose between this host and the lab. */
#ifndef AMALGAM_VMM_KVMPROBE_H
#define AMALGAM_VMM_KVMPROBE_H

enum kvm_flavor {
	KVM_FLAVOR_UNKNOWN,  /* no vendor module found in /sys/module */
	KVM_FLAVOR_VMX,      /* kvm_intel */
	KVM_FLAVOR_SVM,      /* kvm_amd */
	KVM_FLAVOR_PVM,      /* kvm_pvm: guest ring 0 emulated in software */
};

struct kvm_probe {
	int err;                 /* 0 if a vCPU ran; else -errno */
	const char *step;        /* where it failed: "open /dev/kvm", ... */
	enum kvm_flavor flavor;
	double exit_us;          /* median exit round trip, µs (err == 0) */
	unsigned exits;          /* exits timed */
};

/* Fills *p; returns p->err. Touches nothing outside its own VM. */
int kvm_probe(struct kvm_probe *p);

const char *kvm_flavor_name(enum kvm_flavor f);

#endif
