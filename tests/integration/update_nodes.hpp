// Helpers for the `mesh update` tests and bench: the release fixture (update_fixture.sh), and
// nodes that run an *installed* mesh (each with an install prefix of its own, laid out by
// tools/release/install-versioned.sh like install.sh does), since an update replaces the
// binary a node runs.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace mesh::test {
namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// What update_fixture.sh made (in <build>/update-fixture, ctest fixture "update_release").
struct UpdateFixture {
  fs::path dir;
  std::string current, bumped, arch;
  long build_seconds = -1;

  fs::path release() const { return dir / "release"; }
  fs::path release_current() const { return dir / "release-current"; }
  fs::path key(const std::string& which, const std::string& ext) const {
    return dir / (which + "." + ext);
  }
  // The base64 line of a public key file, as release_key takes it.
  std::string key_line(const std::string& which = "release") const {
    std::istringstream in(slurp(key(which, "pub")));
    std::string line;
    std::getline(in, line);
    std::getline(in, line);
    return line;
  }
  std::string archive_name(const std::string& version) const {
    return "mesh-" + version + "-linux-" + arch + ".tar.gz";
  }
  fs::path bumped_archive() const { return dir / "pkg-bumped" / archive_name(bumped); }
  fs::path current_archive() const { return dir / "pkg-current" / archive_name(current); }

  static const UpdateFixture* get() {
    static UpdateFixture f = [] {
      UpdateFixture x;
      x.dir = UPDATE_FIXTURE_DIR;
      std::istringstream env(slurp(x.dir / "fixture.env"));
      for (std::string line; std::getline(env, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string k = line.substr(0, eq), v = line.substr(eq + 1);
        if (k == "CURRENT") x.current = v;
        if (k == "BUMPED") x.bumped = v;
        if (k == "ARCH") x.arch = v;
        if (k == "BUILD_SECONDS") x.build_seconds = std::stol(v);
      }
      return x;
    }();
    return f.bumped.empty() ? nullptr : &f;
  }
};

// This build installed once per test binary (install-versioned.sh), copied for each node.
inline fs::path installed_template() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("mesh-update-install-" + std::to_string(::getpid()));
    fs::remove_all(d);
    auto p = run({INSTALL_VERSIONED, MESH_BUILD_DIR, d.string()}, {}, std::chrono::seconds(300));
    EXPECT_EQ(p.exit, 0) << p.err;
    return d;
  }();
  return dir;
}

inline void remove_installed_template() {
  std::error_code ec;
  fs::remove_all(installed_template(), ec);
}

// Lays out `archive` (a release tarball) as the version `version` of the install at `prefix`,
// as docs/releasing.md shows for a hand install.
inline void install_tarball(const fs::path& prefix, const fs::path& archive,
                            const std::string& version, const std::string& top) {
  fs::path versions = prefix / "lib" / "mesh" / "versions";
  fs::create_directories(versions);
  fs::create_directories(prefix / "bin");
  auto p = run({"tar", "-xzf", archive.string(), "-C", versions.string()});
  ASSERT_EQ(p.exit, 0) << p.err;
  fs::rename(versions / top, versions / version);
  fs::remove(prefix / "lib" / "mesh" / "current");
  fs::create_symlink("versions/" + version, prefix / "lib" / "mesh" / "current");
  fs::remove(prefix / "bin" / "mesh");
  fs::create_symlink("../lib/mesh/current/bin/mesh", prefix / "bin" / "mesh");
}

// A node whose daemon is an installed mesh in an install prefix of its own.
class InstalledNode {
 public:
  InstalledNode(const fs::path& parent, const std::string& name)
      : prefix_(parent / (name + "-prefix")), root_(parent / name), name_(name) {
    auto cp = run({"cp", "-a", installed_template().string(), prefix_.string()});
    EXPECT_EQ(cp.exit, 0) << cp.err;
    auto p = mesh({"init", "--name", name});
    EXPECT_EQ(p.exit, 0) << p.err;
  }
  ~InstalledNode() {
    // Whatever runs on this root now (an update changes the pid), and a watchdog in flight.
    for (int pid : {watchdog_pid(), daemon_pid()}) {
      if (pid <= 0 || !process_alive(pid)) continue;
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 100 && process_alive(pid); ++i) ::usleep(50'000);
      if (process_alive(pid)) ::kill(pid, SIGKILL);
    }
    check_daemon_out();
  }

  const fs::path& prefix() const { return prefix_; }
  const fs::path& root() const { return root_; }
  const std::string& name() const { return name_; }
  const std::string& listen() const { return listen_; }
  fs::path data() const { return root_ / "data" / "updater"; }
  int port() const { return std::stoi(listen_.substr(listen_.rfind(':') + 1)); }
  std::string http_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }

  Proc mesh(const std::vector<std::string>& args,
            std::chrono::seconds timeout = std::chrono::seconds(300)) const {
    std::vector<std::string> argv{(prefix_ / "bin" / "mesh").string(), "--root", root_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {}, timeout);
  }
  boost::json::value mesh_json(const std::vector<std::string>& args) const {
    std::vector<std::string> a{"--json"};
    a.insert(a.end(), args.begin(), args.end());
    auto p = mesh(a);
    EXPECT_EQ(p.exit, 0) << "mesh " << args.front() << ": " << p.err;
    boost::system::error_code ec;
    auto v = boost::json::parse(p.out, ec);
    EXPECT_FALSE(ec) << "not JSON: " << p.out;
    return ec ? boost::json::value() : v;
  }

  void write_config(const std::vector<std::string>& enabled, const std::string& extra) const {
    std::ofstream f(root_ / "mesh.toml", std::ios::trunc);
    f << "[node]\nname = \"" << name_ << "\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n"
      << "[plugins]\nenabled = [";
    for (std::size_t i = 0; i < enabled.size(); ++i)
      f << (i ? ", " : "") << '"' << enabled[i] << '"';
    f << "]\n\n[discovery]\ntargets = [\"239.255.42.42\", \"127.255.255.255\"]\n"
      << "multicast_if = \"127.0.0.1\"\ninterval_ms = 2000\n\n"
      << extra;
  }

  Proc start() {
    auto p = mesh({"--json", "start", "--detach"});
    if (p.exit == 0) {
      boost::system::error_code ec;
      auto v = boost::json::parse(p.out, ec);
      if (!ec) listen_ = std::string(v.at("listen").as_string());
    }
    return p;
  }
  Proc stop() { return mesh({"stop"}); }

  // The daemon holding the root's pid lock right now, or -1.
  int daemon_pid() const {
    std::string s = slurp(root_ / "mesh.pid");
    int pid = std::atoi(s.c_str());
    return pid > 0 && process_alive(pid) ? pid : -1;
  }
  int watchdog_pid() const {
    std::string s = slurp(data() / "pending.json");
    auto at = s.find("\"watchdog_pid\":");
    return at == std::string::npos ? -1 : std::atoi(s.c_str() + at + 15);
  }
  // `mesh status --json` node.<key>.
  std::string node(const std::string& key) const {
    auto p = mesh({"--json", "status"}, std::chrono::seconds(30));
    if (p.exit != 0) return "";
    boost::system::error_code ec;
    auto v = boost::json::parse(p.out, ec);
    if (ec) return "";
    const auto& n = v.at("node");
    const auto* x = n.as_object().if_contains(key);
    if (!x) return "";
    return x->is_string() ? std::string(x->as_string()) : boost::json::serialize(*x);
  }
  std::string link(const std::string& which) const {
    std::error_code ec;
    return fs::read_symlink(prefix_ / "lib" / "mesh" / which, ec).string();
  }

  // A detached daemon's sanitizer reports land in daemon.out (as in harness.cpp's Node).
  void check_daemon_out() {
    std::string text = slurp(root_ / "logs" / "daemon.out");
    for (const char* marker :
         {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
      auto at = text.find(marker);
      if (at == std::string::npos) continue;
      ADD_FAILURE() << name_ << "'s daemon reported:\n"
                    << text.substr(at > 200 ? at - 200 : 0, 6000);
      return;
    }
  }

 private:
  fs::path prefix_;
  fs::path root_;
  std::string name_;
  std::string listen_;
};

inline std::string updater_toml(const std::string& source, const std::string& key,
                                const std::string& more = "") {
  return "[plugins.updater]\nsource = \"" + source + "\"\nrelease_key = \"" + key + "\"\n" + more;
}

}  // namespace mesh::test
