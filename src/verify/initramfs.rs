//! The boot test's initramfs: a gzip-compressed cpio "newc" archive that
//! kseries writes itself (device nodes need no root this way), holding the
//! static workload as `/init` and the auditor module.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::VerifyError;

/// The guest workload's C source (the initramfs's `/init`).
pub const WORKLOAD_C: &str = include_str!("../../templates/verify/workload.c");

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;

/// A cpio "newc" archive being written (no compression).
#[derive(Debug, Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    pub fn new() -> Self {
        Cpio {
            buf: Vec::new(),
            ino: 1,
        }
    }

    pub fn dir(&mut self, name: &str, perm: u32) -> &mut Self {
        self.entry(name, S_IFDIR | perm, 2, (0, 0), &[])
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> &mut Self {
        self.entry(name, S_IFREG | perm, 1, (0, 0), data)
    }

    /// A character device node (`dev/console` is 5:1).
    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> &mut Self {
        self.entry(name, S_IFCHR | perm, 1, (major, minor), &[])
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> &mut Self {
        let ino = self.ino;
        self.ino += 1;
        let namesize = name.len() + 1;
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len() as u32,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            namesize as u32,
            0, // check
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// The archive with its `TRAILER!!!` entry.
    pub fn finish(mut self) -> Vec<u8> {
        self.ino = 0;
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        self.buf
    }
}

/// Writes the boot-test initramfs (`/init`, `/kseries_audit.ko`, the
/// mount points and `/dev/console`) gzip-compressed to `out`.
pub fn write_initramfs(init: &[u8], module: &[u8], out: &Path) -> Result<(), VerifyError> {
    let mut cpio = Cpio::new();
    for d in ["dev", "proc", "sys", "tmp"] {
        cpio.dir(d, 0o755);
    }
    cpio.char_dev("dev/console", 0o600, 5, 1)
        .char_dev("dev/null", 0o666, 1, 3)
        .file("init", 0o755, init)
        .file("kseries_audit.ko", 0o644, module);
    let archive = cpio.finish();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&archive)
        .map_err(|e| VerifyError::io(out, e))?;
    let bytes = gz.finish().map_err(|e| VerifyError::io(out, e))?;
    std::fs::write(out, bytes).map_err(|e| VerifyError::io(out, e))
}

/// Compiles the workload with the host gcc (`-static -O2`) into `dir/init`
/// unless an up-to-date one is there (keyed by the source's hash).
pub fn build_workload(dir: &Path) -> Result<PathBuf, VerifyError> {
    std::fs::create_dir_all(dir).map_err(|e| VerifyError::io(dir, e))?;
    let hash = super::kbuild::fnv1a(WORKLOAD_C.as_bytes());
    let bin = dir.join(format!("init-{hash:016x}"));
    if bin.is_file() {
        return Ok(bin);
    }
    let src = dir.join("workload.c");
    std::fs::write(&src, WORKLOAD_C).map_err(|e| VerifyError::io(&src, e))?;
    let tmp = dir.join(format!("init-{hash:016x}.tmp"));
    let mut cmd = Command::new("gcc");
    cmd.args(["-static", "-O2", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&src)
        .env("LC_ALL", "C");
    let command = format!(
        "gcc -static -O2 -Wall -o {} {}",
        tmp.display(),
        src.display()
    );
    let out = cmd.output().map_err(|source| VerifyError::Spawn {
        command: command.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(VerifyError::Make {
            command,
            tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    std::fs::rename(&tmp, &bin).map_err(|e| VerifyError::io(&bin, e))?;
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_headers_are_well_formed() {
        let mut c = Cpio::new();
        c.dir("dev", 0o755).file("init", 0o755, b"hello");
        let a = c.finish();
        assert_eq!(&a[..6], b"070701");
        assert_eq!(a.len() % 4, 0);
        // second entry starts after 110-byte header + "dev\0" (4, aligned to 116)
        assert_eq!(&a[116..122], b"070701");
        let filesize = std::str::from_utf8(&a[116 + 54..116 + 62]).unwrap();
        assert_eq!(u32::from_str_radix(filesize, 16).unwrap(), 5);
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn the_cpio_tool_reads_our_archive() {
        if Command::new("cpio").arg("--version").output().is_err() {
            eprintln!("cpio not installed: skipped");
            return;
        }
        let mut c = Cpio::new();
        c.dir("dev", 0o755)
            .char_dev("dev/console", 0o600, 5, 1)
            .file("init", 0o755, b"#!/bin/sh\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.cpio");
        std::fs::write(&path, c.finish()).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("cpio -itv < {}", path.display()))
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(listing.contains("dev/console"), "{listing}");
        assert!(
            listing.contains("5,") && listing.contains("init"),
            "{listing}"
        );
    }
}
