#!/usr/bin/env python3
"""Writes the seccomp profiles for aisnode containers.

* ``no-io-uring.json``: a container-default-style allowlist without io_uring, as Docker
  (since 25.0) and containerd ship by default. Used to show the psync fallback.
* ``io-uring.json``: the same allowlist plus io_uring_setup, io_uring_enter and
  io_uring_register, so the target's disk workers can use io_uring.

Run it after editing the lists; tests check the committed files match its output.
"""

import json
import pathlib

# Syscalls any ordinary container needs (file, memory, time, signals, sockets, threads).
BASE = """
accept accept4 access alarm bind brk capget capset chdir chmod chown clock_getres clock_gettime
clock_nanosleep close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_pwait epoll_pwait2 epoll_wait eventfd eventfd2 execve execveat exit exit_group faccessat
faccessat2 fadvise64 fallocate fchdir fchmod fchmodat fchown fchownat fcntl fdatasync fgetxattr flistxattr
flock fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate futex futex_waitv getcpu getcwd getdents
getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresuid getrlimit get_robust_list getrusage getsid getsockname getsockopt gettid
gettimeofday getuid getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch ioctl ioprio_get
ioprio_set kill lchown lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat
madvise membarrier memfd_create mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect mremap
msync munlock munlockall munmap nanosleep newfstatat open openat openat2 pause pipe pipe2 poll ppoll prctl
pread64 preadv preadv2 prlimit64 pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
recvfrom recvmmsg recvmsg removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_setaffinity sched_yield select sendfile sendmmsg sendmsg sendto setfsgid setfsuid setgid setgroups
setitimer setpgid setpriority setregid setresgid setresuid setreuid setrlimit set_robust_list setsid setsockopt
set_tid_address setuid setxattr shutdown sigaltstack signalfd signalfd4 socket socketpair splice stat statfs
statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime times tkill
truncate umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4 waitid write writev
arch_prctl
""".split()

IO_URING = ["io_uring_enter", "io_uring_register", "io_uring_setup"]

# clone without namespace flags (CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP);
# clone3 answers ENOSYS so libc falls back to clone, where the flags can be checked.
CLONE_NS_FLAGS = 0x7E020000


def profile(extra):
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {"names": sorted(set(BASE) | set(extra)), "action": "SCMP_ACT_ALLOW"},
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": CLONE_NS_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}],
            },
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ],
    }


def render(extra):
    return json.dumps(profile(extra), indent=2) + "\n"


def main():
    here = pathlib.Path(__file__).resolve().parent
    (here / "no-io-uring.json").write_text(render([]))
    (here / "io-uring.json").write_text(render(IO_URING))


if __name__ == "__main__":
    main()
