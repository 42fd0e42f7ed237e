// podman's Docker-compatible API for tests (../shared/PLATFORM.md): its own storage under a temp
// dir, runc as the runtime, `podman system service` on a unix socket, and a busybox image
// imported from the busybox-static binary (nothing is pulled). Point the docker CLI at it with
// DOCKER_HOST=socket(). A test that needs it and cannot have it fails with the install hint.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

extern char** environ;

namespace mesh::test {

class Podman {
 public:
  static constexpr const char* kHint =
      "podman (with runc) and busybox-static are needed for the docker runner's tests: "
      "apt-get install podman runc busybox-static docker.io (the docker CLI)";

  explicit Podman(const std::filesystem::path& dir) : dir_(dir) {}
  ~Podman() { stop(); }

  // Imports the image and starts the service; false with *why when it cannot.
  bool start(std::string* why) {
    namespace fs = std::filesystem;
    for (const char* tool : {"podman", "docker"}) {
      if (run({"sh", "-c", std::string("command -v ") + tool}).exit != 0)
        return *why = std::string("no ") + tool + " on PATH. " + kHint, false;
    }
    std::string busybox;
    for (const char* p : {"/bin/busybox", "/usr/bin/busybox"}) {
      if (fs::exists(p)) busybox = p;
    }
    if (busybox.empty()) return *why = std::string("no busybox. ") + kHint, false;
    fs::create_directories(dir_ / "rootfs" / "bin");
    fs::create_directories(dir_ / "rootfs" / "tmp");
    fs::copy_file(busybox, dir_ / "rootfs" / "bin" / "busybox",
                  fs::copy_options::overwrite_existing);
    for (const char* app : {"sh", "echo", "cat", "ls", "env", "sleep", "printf", "base64", "pwd",
                            "id", "test", "true"}) {
      std::error_code ec;
      fs::create_symlink("busybox", dir_ / "rootfs" / "bin" / app, ec);
    }
    std::ofstream(dir_ / "containers.conf")
        << "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
        << "[engine]\nruntime = \"runc\"\n";
    ::setenv("CONTAINERS_CONF", (dir_ / "containers.conf").c_str(), 1);
    auto tar =
        run({"tar", "-C", (dir_ / "rootfs").string(), "-cf", (dir_ / "rootfs.tar").string(), "."});
    if (tar.exit != 0) return *why = "tar: " + tar.err, false;
    auto imp = run(podman({"import", (dir_ / "rootfs.tar").string(), image()}), {},
                   std::chrono::seconds(120));
    if (imp.exit != 0) return *why = "podman import: " + imp.out + imp.err + ". " + kHint, false;
    std::vector<std::string> argv = podman({"system", "service", "--time=0", "unix://" + socket()});
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    if (::posix_spawnp(&pid_, a[0], nullptr, nullptr, a.data(), environ) != 0)
      return *why = std::string("cannot start podman system service. ") + kHint, false;
    bool up = eventually(
        [&] {
          return run({"docker", "-H", "unix://" + socket(), "version"}, {},
                     std::chrono::seconds(10))
                     .exit == 0;
        },
        std::chrono::seconds(30));
    if (!up) return *why = std::string("podman's API did not come up. ") + kHint, false;
    return true;
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      run(podman({"system", "reset", "--force"}), {}, std::chrono::seconds(60));
    }
  }

  std::string socket() const { return (dir_ / "podman.sock").string(); }
  std::string docker_host() const { return "unix://" + socket(); }
  static std::string image() { return "localhost/mesh-test-busybox"; }

 private:
  std::vector<std::string> podman(std::vector<std::string> args) const {
    std::vector<std::string> out{"podman",
                                 "--root",
                                 (dir_ / "storage").string(),
                                 "--runroot",
                                 (dir_ / "run").string(),
                                 "--storage-driver",
                                 "vfs"};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace mesh::test
