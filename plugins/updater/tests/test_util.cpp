#include "test_util.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifndef MINISIGN_PROGRAM
#define MINISIGN_PROGRAM "minisign"
#endif

namespace mesh::updater::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "mesh-updater-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests make read-only trees too: make everything writable before removing it.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_symlink())
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::remove_all(path_, ec);
}

RunResult run(const std::vector<std::string>& argv, const fs::path& cwd) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  RunResult r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0)
    r.output.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TestKey make_key(const fs::path& dir, const std::string& name) {
  TestKey k{dir / (name + ".pub"), dir / (name + ".sec"), ""};
  auto r = run({MINISIGN_PROGRAM, "-G", "-W", "-p", k.pub.string(), "-s", k.sec.string()});
  if (r.exit_code != 0) throw std::runtime_error("minisign -G failed: " + r.output);
  k.pub_text = read_file(k.pub);
  return k;
}

std::string sign(const TestKey& key, const fs::path& file, bool legacy, const fs::path& out) {
  std::vector<std::string> argv = {MINISIGN_PROGRAM, "-S", "-s",
                                   key.sec.string(), "-m", file.string()};
  if (legacy) argv.push_back("-l");
  fs::path sig = out.empty() ? fs::path(file.string() + ".minisig") : out;
  argv.push_back("-x");
  argv.push_back(sig.string());
  auto r = run(argv);
  if (r.exit_code != 0) throw std::runtime_error("minisign -S failed: " + r.output);
  return read_file(sig);
}

namespace {

void put_octal(char* field, std::size_t width, std::uint64_t value) {
  // width-1 octal digits and a NUL, as ustar wants (the low digits if it does not fit).
  for (std::size_t i = width - 1; i-- > 0; value >>= 3)
    field[i] = static_cast<char>('0' + (value & 7));
  field[width - 1] = '\0';
}

std::string header_block(const std::string& name, char type, unsigned mode, std::uint64_t size,
                         const std::string& link) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<std::size_t>(name.size(), 100));
  put_octal(&h[100], 8, mode);
  put_octal(&h[108], 8, 0);
  put_octal(&h[116], 8, 0);
  put_octal(&h[124], 12, size);
  put_octal(&h[136], 12, 1700000000);
  h[156] = type;
  std::memcpy(&h[157], link.data(), std::min<std::size_t>(link.size(), 100));
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

void pad(std::string& out) {
  if (out.size() % 512) out.append(512 - out.size() % 512, '\0');
}

}  // namespace

std::string pax_record(const std::string& key, const std::string& value) {
  // "<len> key=value\n" where len counts itself.
  std::string body = " " + key + "=" + value + "\n";
  std::size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    if (e.path.size() > 100 || e.link.size() > 100) {
      std::string pax;
      if (e.path.size() > 100) pax += pax_record("path", e.path);
      if (e.link.size() > 100) pax += pax_record("linkpath", e.link);
      out += header_block("PaxHeader", 'x', 0644, pax.size(), "");
      out += pax;
      pad(out);
    }
    std::uint64_t size = e.declared >= 0 ? static_cast<std::uint64_t>(e.declared) : e.data.size();
    out += header_block(e.path, e.type, e.mode, size, e.link);
    out += e.data;
    pad(out);
  }
  out.append(1024, '\0');
  return out;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(z.total_out);
  return out;
}

void write_tar_gz(const fs::path& path, const std::vector<TarEntry>& entries) {
  write_file(path, gzip(make_tar(entries)));
}

std::string random_bytes(std::size_t n) {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

}  // namespace mesh::updater::test
