//! A lab of two network namespaces, "server" and "client", joined by a veth pair, with a TCP
//! echo listener on port 22 in "server". Dropping the lab removes both namespaces (and with
//! them the veth pair), also when the test fails.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jit::providers::nftables::Nft;

/// Addresses of the lab (documentation ranges only).
pub const SERVER4: &str = "192.0.2.1";
pub const CLIENT4: &str = "192.0.2.2";
/// A second client address that no test grants.
pub const OTHER4: &str = "192.0.2.3";
pub const SERVER6: &str = "2001:db8::1";
pub const CLIENT6: &str = "2001:db8::2";
pub const OTHER6: &str = "2001:db8::3";

static SEQUENCE: AtomicUsize = AtomicUsize::new(0);

pub struct Lab {
    pub server: String,
    pub client: String,
    stop: Arc<AtomicBool>,
}

/// Why the lab cannot be made here, if it cannot.
fn missing() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".to_string());
    }
    for tool in ["ip", "nft"] {
        let found = Command::new(tool)
            .arg(if tool == "ip" { "-V" } else { "--version" })
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    /// A fresh lab, or `None` (with the reason printed) when this machine cannot make one.
    pub fn new(test: &str) -> Option<Lab> {
        if let Some(why) = missing() {
            // CI sets this: there a test that cannot run is a failure, not a pass.
            if std::env::var_os("JIT_NETNS_TESTS").is_some_and(|v| v == "required") {
                panic!("{test}: {why}, and JIT_NETNS_TESTS=required");
            }
            eprintln!("skipping {test}: {why} (these tests need root, `ip` and `nft`)");
            return None;
        }
        let n = SEQUENCE.fetch_add(1, Ordering::SeqCst);
        let id = format!("{:x}{n}", std::process::id());
        let lab = Lab {
            server: format!("jit-s-{id}"),
            client: format!("jit-c-{id}"),
            stop: Arc::new(AtomicBool::new(false)),
        };
        // Interface names: at most 15 bytes.
        let (vs, vc) = (format!("jvs{id}"), format!("jvc{id}"));
        ip(&["netns", "add", &lab.server]);
        ip(&["netns", "add", &lab.client]);
        ip(&[
            "link",
            "add",
            &vs,
            "netns",
            &lab.server,
            "type",
            "veth",
            "peer",
            "name",
            &vc,
            "netns",
            &lab.client,
        ]);
        for (ns, dev, addrs) in [
            (
                &lab.server,
                &vs,
                [
                    format!("{SERVER4}/24"),
                    format!("{SERVER6}/64"),
                    String::new(),
                    String::new(),
                ],
            ),
            (
                &lab.client,
                &vc,
                [
                    format!("{CLIENT4}/24"),
                    format!("{CLIENT6}/64"),
                    format!("{OTHER4}/24"),
                    format!("{OTHER6}/64"),
                ],
            ),
        ] {
            for addr in addrs.iter().filter(|a| !a.is_empty()) {
                let mut args = vec![
                    "-n",
                    ns.as_str(),
                    "addr",
                    "add",
                    addr.as_str(),
                    "dev",
                    dev.as_str(),
                ];
                if addr.contains(':') {
                    args.push("nodad");
                }
                ip(&args);
            }
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        lab.listen();
        Some(lab)
    }

    /// nft, run inside "server".
    pub fn nft(&self) -> Nft {
        Nft::wrapped("ip", ["netns", "exec", self.server.as_str(), "nft"])
    }

    /// Runs `nft <args>` inside "server" (for hand edits), returning stdout.
    pub fn nft_text(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.server, "nft"])
            .args(args)
            .output()
            .expect("run nft");
        assert!(
            out.status.success(),
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts an echo listener on port 22 of "server", both families.
    fn listen(&self) {
        let listener =
            in_netns(&self.server, || TcpListener::bind("[::]:22")).expect("listen on 22");
        listener.set_nonblocking(true).unwrap();
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            // Polls, so that dropping the lab closes the listener and its namespace can go.
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        std::thread::spawn(move || echo(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }

    /// A TCP connection from `source` (one of the client's addresses) to the server's address
    /// of the same family on port 22, or `None` when it is not accepted within a second.
    pub fn connect(&self, source: &str) -> Option<TcpStream> {
        self.connect_within(source, Duration::from_secs(1))
    }

    pub fn connect_within(&self, source: &str, timeout: Duration) -> Option<TcpStream> {
        let source: IpAddr = source.parse().unwrap();
        let server: IpAddr = if source.is_ipv4() { SERVER4 } else { SERVER6 }
            .parse()
            .unwrap();
        in_netns(&self.client, move || {
            let domain = if source.is_ipv4() {
                socket2::Domain::IPV4
            } else {
                socket2::Domain::IPV6
            };
            let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
            socket.bind(&SocketAddr::new(source, 0).into())?;
            socket.connect_timeout(&SocketAddr::new(server, 22).into(), timeout)?;
            Ok::<_, std::io::Error>(TcpStream::from(socket))
        })
        .ok()
    }
}

/// Whether an open connection still carries data both ways.
pub fn still_open(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 5];
    stream.write_all(b"hello").is_ok() && stream.read_exact(&mut buf).is_ok() && &buf == b"hello"
}

fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Runs `f` on a thread that has entered network namespace `ns`; sockets made there stay in
/// `ns` wherever they are used later.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path)?;
        // SAFETY: a valid namespace fd; setns only changes this thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .expect("the namespace thread panicked")
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Deleting a namespace deletes the veth end inside it, and with it its peer.
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
