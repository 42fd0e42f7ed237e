#include "addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include <boost/json.hpp>

#include "mesh/base/files.hpp"
#include "mesh/config/config.hpp"
#include "mesh/gossip/token.hpp"

namespace mesh::app::team {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxStateFile = 1 << 20;

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

std::vector<InterfaceAddress> interface_addresses() {
  std::vector<InterfaceAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* ifa = list; ifa; ifa = ifa->ifa_next) {
    if (!ifa->ifa_addr) continue;
    InterfaceAddress a;
    a.up = (ifa->ifa_flags & IFF_UP) != 0;
    a.loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    char buf[INET6_ADDRSTRLEN] = {};
    if (ifa->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(ifa->ifa_addr);
      ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(ifa->ifa_addr);
      a.v6 = true;
      a.link_local = IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr);
      ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    } else {
      continue;
    }
    a.ip = buf;
    out.push_back(std::move(a));
  }
  ::freeifaddrs(list);
  return out;
}

std::string host_scope() {
  std::string machine;
  for (const char* file : {"/etc/machine-id", "/proc/sys/kernel/random/boot_id"}) {
    std::ifstream in(file);
    if (std::getline(in, machine) && !machine.empty()) break;
    machine.clear();
  }
  if (machine.empty()) return "";
  struct stat ns {};
  const std::string netns =
      ::stat("/proc/self/ns/net", &ns) == 0 ? std::to_string(ns.st_ino) : std::string("-");
  const std::string input = machine + "\n" + netns;
  static constexpr unsigned char kKey[] = "mesh host scope v1";
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), kKey, sizeof kKey - 1);
  static constexpr char hex[] = "0123456789abcdef";
  std::string tag;
  for (unsigned char b : out) {
    tag += hex[b >> 4];
    tag += hex[b & 15];
  }
  return tag;
}

std::string format_address(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::vector<std::string> own_addresses(const std::string& listen,
                                       const std::vector<std::string>& advertise,
                                       const std::vector<InterfaceAddress>& interfaces) {
  if (!advertise.empty()) return advertise;
  auto hp = config::parse_host_port(listen);
  if (!hp) return {listen};
  if (is_loopback_host(hp->host)) return {format_address(hp->host, hp->port)};
  if (hp->host != "0.0.0.0" && hp->host != "::") return {format_address(hp->host, hp->port)};
  std::vector<std::string> out;
  for (const auto& i : interfaces) {
    if (i.loopback || !i.up) continue;
    if (i.v6 && (hp->host != "::" || i.link_local)) continue;
    auto a = format_address(i.ip, hp->port);
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    if (out.size() >= gossip::kMaxTokenAddresses) break;
  }
  if (out.empty()) out.push_back(format_address("127.0.0.1", hp->port));
  return out;
}

AddressBook::AddressBook(std::filesystem::path file) : file_(std::move(file)) {
  if (auto text = read_file(file_, kMaxStateFile)) {
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (!ec && v.is_object()) book_ = v.as_object();
  }
}

std::vector<std::string> AddressBook::get(const identity::PublicKey& key) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  const auto* list = book_.if_contains(key.id());
  if (!list || !list->is_array()) return out;
  for (const auto& a : list->as_array()) {
    if (out.size() >= gossip::kMaxTokenAddresses) break;
    if (a.is_string()) out.emplace_back(a.as_string());
  }
  return out;
}

Status AddressBook::add(const identity::PublicKey& key, const std::string& address) {
  std::lock_guard lock(mu_);
  json::object book = book_;
  auto& entry = book[key.id()];
  if (!entry.is_array()) entry = json::array{};
  auto& list = entry.as_array();
  bool have = std::any_of(list.begin(), list.end(), [&](const json::value& a) {
    return a.is_string() && a.as_string() == address;
  });
  if (!have) {
    if (list.size() >= gossip::kMaxTokenAddresses) {
      return make_error(Errc::limit, "at most " + std::to_string(gossip::kMaxTokenAddresses) +
                                         " configured addresses per member");
    }
    list.emplace_back(address);
  }
  if (auto st = write_file_atomic(file_, json::serialize(book)); !st) return st;
  book_ = std::move(book);
  return {};
}

}  // namespace mesh::app::team
