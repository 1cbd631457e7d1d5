/*
 * kseries guest workload: the static /init of the boot-test initramfs.
 * Written for kseries.  Build: gcc -static -O2 -o init workload.c
 *
 * It mounts the pseudo filesystems, loads the auditor module, registers
 * the auditor on its own mm, then makes the kernel unmap, write-protect,
 * migrate, merge and split huge and normal pages.  At the end it asks
 * the auditor for its verdict and powers QEMU off through isa-debug-exit
 * (port 0xf4): value 0 when the workload ran, 1 when it could not.
 *
 * Lines it prints start with "kseries-workload: "; "error:" marks a
 * failure of the test itself, "note:" something skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#define MB (1024UL * 1024UL)
#define HPAGE (2 * MB)
#define AUDIT_CTL "/proc/kseries_audit"
#define AUDIT_KO "/kseries_audit.ko"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_MERGEABLE
#define MADV_MERGEABLE 12
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

static long page_size;
static int errors;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("kseries-workload: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

#define error(...) do { errors++; say("error: " __VA_ARGS__); } while (0)
#define note(...) say("note: " __VA_ARGS__)

static void power_off(int value)
{
	fflush(stdout);
	sync();
	if (ioperm(0xf4, 4, 1) == 0)
		outb((unsigned char)value, 0xf4);
	/* Not under QEMU with isa-debug-exit: make init exit (panic=-1). */
	_exit(value);
}

static void on_alarm(int sig)
{
	(void)sig;
	say("error: workload watchdog expired");
	power_off(1);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static long read_long(const char *path)
{
	char buf[64] = { 0 };
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void touch(char *p, size_t len, int val)
{
	size_t i;

	for (i = 0; i < len; i += (size_t)page_size)
		p[i] = (char)(val + (int)(i / (size_t)page_size));
}

/* An anonymous mapping of len bytes aligned to a huge page. */
static char *map_aligned(size_t len)
{
	char *raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (raw == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1);
	if (a > (uintptr_t)raw)
		munmap(raw, a - (uintptr_t)raw);
	munmap((char *)a + len, (uintptr_t)raw + len + HPAGE - (a + len));
	return (char *)a;
}

static void setup(void)
{
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	if (mount("proc", "/proc", "proc", 0, NULL))
		error("mount /proc: %s", strerror(errno));
	if (mount("sysfs", "/sys", "sysfs", 0, NULL))
		error("mount /sys: %s", strerror(errno));
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL))
		note("mount /dev: %s", strerror(errno));
	if (mount("tmpfs", "/tmp", "tmpfs", 0, "size=64m"))
		error("mount /tmp: %s", strerror(errno));
	if (mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL))
		note("mount debugfs: %s", strerror(errno));
}

static int load_auditor(void)
{
	int fd = open(AUDIT_KO, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		error("open %s: %s", AUDIT_KO, strerror(errno));
		return -1;
	}
	if (syscall(SYS_finit_module, fd, "", 0)) {
		error("finit_module %s: %s", AUDIT_KO, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int audit(const char *cmd)
{
	int ret = write_file(AUDIT_CTL, cmd);

	if (ret)
		error("writing '%s' to %s: %s", cmd, AUDIT_CTL, strerror(-ret));
	return ret;
}

static void phase_anon(void)
{
	size_t len = 8 * MB;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	say("phase anon: munmap, mprotect, mremap, MADV_DONTNEED");
	if (p == MAP_FAILED) {
		error("mmap anon: %s", strerror(errno));
		return;
	}
	touch(p, len, 1);
	if (mprotect(p, len / 2, PROT_READ))
		error("mprotect: %s", strerror(errno));
	if (mprotect(p, len / 2, PROT_READ | PROT_WRITE))
		error("mprotect back: %s", strerror(errno));
	touch(p, len / 2, 2);
	if (madvise(p + MB, MB, MADV_DONTNEED))
		error("MADV_DONTNEED: %s", strerror(errno));
	if (munmap(p + 2 * MB, MB))
		error("munmap hole: %s", strerror(errno));
	q = mremap(p + 4 * MB, 4 * MB, 6 * MB, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		error("mremap: %s", strerror(errno));
		q = p + 4 * MB;
	} else {
		touch(q, 6 * MB, 3);
	}
	munmap(p, 2 * MB);
	munmap(p + 3 * MB, MB);
	munmap(q, q == p + 4 * MB ? 4 * MB : 6 * MB);
}

static void phase_file(void)
{
	size_t len = 4 * MB;
	int fd = open("/tmp/kseries-file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *s, *pv;

	say("phase file: tmpfs shared and private mappings, truncate");
	if (fd < 0) {
		error("open tmpfs file: %s", strerror(errno));
		return;
	}
	if (ftruncate(fd, (off_t)len)) {
		error("ftruncate: %s", strerror(errno));
		close(fd);
		return;
	}
	s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (s == MAP_FAILED || pv == MAP_FAILED) {
		error("mmap tmpfs file: %s", strerror(errno));
		close(fd);
		return;
	}
	touch(s, len, 4);
	(void)*(volatile char *)pv;
	touch(pv, len / 2, 5); /* COW of file pages */
	if (msync(s, len, MS_SYNC))
		error("msync: %s", strerror(errno));
	if (mprotect(s, len, PROT_READ))
		error("mprotect shared: %s", strerror(errno));
	if (ftruncate(fd, (off_t)(len / 2))) /* unmap_mapping_range */
		error("ftruncate shrink: %s", strerror(errno));
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)MB))
		note("punch hole: %s", strerror(errno));
	munmap(s, len);
	munmap(pv, len);
	close(fd);
	unlink("/tmp/kseries-file");
}

static char *thp_region(size_t len, int val)
{
	char *p = map_aligned(len);

	if (!p) {
		error("mmap for THP: %s", strerror(errno));
		return NULL;
	}
	if (madvise(p, len, MADV_HUGEPAGE))
		note("MADV_HUGEPAGE: %s", strerror(errno));
	touch(p, len, val);
	return p;
}

static void phase_thp(void)
{
	size_t len = 8 * MB;
	char *p;

	say("phase thp: huge pages mapped, split, protected, unmapped");
	/* 4.12 turns THP off below 512 MB of RAM; the admin may turn it on. */
	if (write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise"))
		note("cannot enable THP through sysfs");
	if (write_file("/sys/kernel/mm/transparent_hugepage/defrag", "madvise"))
		note("cannot set THP defrag through sysfs");
	p = thp_region(len, 6);
	if (!p)
		return;
	if (mprotect(p, HPAGE, PROT_READ)) /* a whole huge pmd */
		error("mprotect huge: %s", strerror(errno));
	if (mprotect(p + HPAGE, (size_t)page_size, PROT_READ)) /* split pmd */
		error("mprotect split: %s", strerror(errno));
	if (munmap(p + 2 * HPAGE + 16 * (size_t)page_size,
		   (size_t)page_size)) /* partial unmap of a huge page */
		error("munmap in huge page: %s", strerror(errno));
	if (madvise(p + 3 * HPAGE, HPAGE, MADV_DONTNEED))
		error("MADV_DONTNEED huge: %s", strerror(errno));
	/* split_huge_page() of every THP: try_to_unmap() on huge pages; the
	 * kernel logs "huge_memory: N of M THP split" (the evidence that THPs
	 * were mapped: meminfo's AnonHugePages lags in per-cpu counters). */
	if (write_file("/sys/kernel/debug/split_huge_pages", "1"))
		note("debugfs split_huge_pages unavailable");
	munmap(p, len);
}

static void phase_fork(void)
{
	size_t len = 4 * MB;
	char *p = thp_region(len, 7);
	char *q = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	int status;

	say("phase fork: copy-on-write of normal and huge pages");
	if (!p || q == MAP_FAILED) {
		error("mmap for fork: %s", strerror(errno));
		return;
	}
	touch(q, len, 8);
	pid = fork();
	if (pid < 0) {
		error("fork: %s", strerror(errno));
	} else if (pid == 0) {
		/* the child registers too: its COW faults are audited */
		write_file(AUDIT_CTL, "register");
		touch(p, len / 2, 9);
		touch(q, len / 2, 9);
		munmap(p, len);
		_exit(0);
	} else {
		touch(p, len, 10);
		touch(q, len, 10);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			error("child failed: status %#x", status);
	}
	munmap(p, len);
	munmap(q, len);
}

static void phase_ksm(void)
{
	size_t len = 2 * MB;
	char *p;
	long sharing = 0;
	int i;

	say("phase ksm: merging identical pages, breaking COW on them");
	if (access("/sys/kernel/mm/ksm/run", W_OK)) {
		note("no KSM in this kernel");
		return;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		error("mmap for KSM: %s", strerror(errno));
		return;
	}
	memset(p, 0x5a, len);
	if (madvise(p, len, MADV_MERGEABLE)) {
		error("MADV_MERGEABLE: %s", strerror(errno));
		return;
	}
	write_file("/sys/kernel/mm/ksm/pages_to_scan", "1000");
	write_file("/sys/kernel/mm/ksm/sleep_millisecs", "10");
	write_file("/sys/kernel/mm/ksm/run", "1");
	for (i = 0; i < 200; i++) {
		sharing = read_long("/sys/kernel/mm/ksm/pages_sharing");
		if (sharing > 16)
			break;
		sleep_ms(50);
	}
	if (sharing <= 0)
		note("KSM merged nothing in time");
	else
		say("ksm: pages_sharing=%ld", sharing);
	touch(p, len / 4, 11); /* break COW of KSM pages */
	write_file("/sys/kernel/mm/ksm/run", "2"); /* unmerge, stop */
	munmap(p, len);
}

static void phase_migrate(void)
{
	enum { N = 64 };
	size_t len = 4 * MB;
	char *p, *h;
	void *pages[N];
	int nodes[N], status[N];
	int i, to, moved = 0;

	say("phase migrate: move_pages between nodes, compaction");
	p = mmap(NULL, (size_t)N * (size_t)page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h = thp_region(len, 12);
	if (p == MAP_FAILED || !h) {
		error("mmap for migration: %s", strerror(errno));
		return;
	}
	touch(p, (size_t)N * (size_t)page_size, 13);
	if (access("/sys/devices/system/node/node1", F_OK)) {
		note("one NUMA node only: move_pages skipped");
	} else {
		for (to = 1; to >= 0; to--) {
			for (i = 0; i < N; i++) {
				pages[i] = i < N / 2 ? p + (size_t)i * (size_t)page_size
						     : h + (size_t)(i - N / 2) * 64 * 1024;
				nodes[i] = to;
				status[i] = -1;
			}
			if (syscall(SYS_move_pages, 0, N, pages, nodes, status,
				    MPOL_MF_MOVE) < 0) {
				error("move_pages: %s", strerror(errno));
				break;
			}
			for (i = 0; i < N; i++)
				moved += status[i] == to;
		}
		say("migrate: %d pages now on their target node", moved);
	}
	if (write_file("/proc/sys/vm/compact_memory", "1"))
		note("no /proc/sys/vm/compact_memory");
	touch(p, (size_t)N * (size_t)page_size, 14);
	munmap(p, (size_t)N * (size_t)page_size);
	munmap(h, len);
}

/*
 * A tiny KVM guest (nested SVM under TCG): creating the VM registers KVM's
 * own mmu_notifier on this mm, the guest's writes fault its memory in
 * through KVM's MMU, and MADV_DONTNEED/munmap of that memory make the core
 * invalidate it under both notifiers.  Runs in a child with a watchdog:
 * a hung KVM_RUN is killed.
 */
static const unsigned char kvm_code[] = {
	0xb0, 0x42,		/* mov al, 0x42 */
	0xa2, 0x00, 0x20,	/* mov [0x2000], al */
	0xe6, 0x10,		/* out 0x10, al */
	0xa0, 0x00, 0x30,	/* mov al, [0x3000] */
	0xe6, 0x10,		/* out 0x10, al */
	0xf4,			/* hlt */
};

static int kvm_run_guest(int vcpu, struct kvm_run *run, int *ios)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int i;

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs))
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs))
		return -1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs))
		return -1;
	for (i = 0; i < 16; i++) {
		if (ioctl(vcpu, KVM_RUN, 0))
			return -1;
		if (run->exit_reason == KVM_EXIT_HLT)
			return 0;
		if (run->exit_reason == KVM_EXIT_IO)
			(*ios)++;
		else
			return -(int)run->exit_reason - 100;
	}
	return -2;
}

static int kvm_child(void)
{
	size_t len = 2 * MB;
	struct kvm_userspace_memory_region region;
	struct kvm_run *run;
	int kvm, vm, vcpu, ios = 0, ret;
	long run_size;
	char *mem;

	signal(SIGALRM, SIG_DFL);
	write_file(AUDIT_CTL, "register");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return 10;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return 11;
	mem = map_aligned(len);
	if (!mem)
		return 12;
	memset(mem, 0, len);
	memcpy(mem + 0x1000, kvm_code, sizeof(kvm_code));
	mem[0x3000] = 0x17;
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = len;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
		return 13;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return 14;
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu, 0);
	if (run == MAP_FAILED)
		return 15;
	ret = kvm_run_guest(vcpu, run, &ios);
	if (ret || mem[0x2000] != 0x42)
		return 16;
	/* invalidate guest memory that KVM's MMU has mapped, run again */
	if (madvise(mem + 0x2000, 0x2000, MADV_DONTNEED))
		return 17;
	mem[0x3000] = 0x18;
	if (mprotect(mem, len, PROT_READ) || mprotect(mem, len, PROT_READ | PROT_WRITE))
		return 18;
	ret = kvm_run_guest(vcpu, run, &ios);
	if (ret || mem[0x2000] != 0x42)
		return 19;
	printf("kseries-workload: kvm: guest ran twice, %d I/O exits\n", ios);
	fflush(stdout);
	munmap(mem, len);
	close(vcpu);
	close(vm);
	close(kvm);
	return 0;
}

static void phase_kvm(void)
{
	pid_t pid;
	int status = 0, waited;

	say("phase kvm: a nested KVM guest registers KVM's notifier");
	if (access("/dev/kvm", R_OK | W_OK)) {
		note("no /dev/kvm: KVM phase skipped");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		error("fork for kvm: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(kvm_child());
	for (waited = 0; waited < 600; waited++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		sleep_ms(50);
	}
	if (waited == 600) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		error("kvm: guest hung (KVM_RUN watchdog, 30 s)");
		return;
	}
	if (!WIFEXITED(status))
		error("kvm: child died, status %#x", status);
	else if (WEXITSTATUS(status) >= 10 && WEXITSTATUS(status) <= 15)
		note("kvm: no VM (setup step %d failed): phase skipped",
		     WEXITSTATUS(status));
	else if (WEXITSTATUS(status))
		error("kvm: guest did not run as expected (step %d)",
		      WEXITSTATUS(status));
}

int main(void)
{
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	alarm(120); /* before the host's timeout (180 s by default) */
	setup();
	say("start");
	if (load_auditor() || audit("register")) {
		audit("verdict");
		power_off(1);
	}
	phase_anon();
	phase_file();
	phase_thp();
	phase_fork();
	phase_ksm();
	phase_migrate();
	phase_kvm();
	audit("verdict");
	say("done errors=%d", errors);
	power_off(errors ? 1 : 0);
	return 0;
}
