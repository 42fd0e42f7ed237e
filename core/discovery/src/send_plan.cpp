#include "mesh/discovery/send_plan.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <boost/asio/ip/address.hpp>

namespace mesh::discovery {
namespace asio = boost::asio;

namespace {

// The host part of "host:port" / "[v6]:port".
std::string host_of(const std::string& listen) {
  if (listen.starts_with('[')) {
    auto close = listen.find(']');
    return close == std::string::npos ? "" : listen.substr(1, close - 1);
  }
  auto colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

}  // namespace

SendPlan plan_sending(const std::string& listen, const Options& options,
                      const std::vector<LocalAddress>& addresses) {
  SendPlan plan;
  plan.targets = options.targets;
  if (plan.targets.empty()) {
    plan.targets = {"255.255.255.255", kMulticastGroupV4, kMulticastGroupV6};
  }
  plan.multicast_if = options.multicast_if;
  plan.multicast_if6 = options.multicast_if6;
  if (listen.empty()) return plan;

  boost::system::error_code ec;
  std::string host = host_of(listen);
  if (host == "localhost") host = "127.0.0.1";
  auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    plan.notes.push_back("listen address " + listen + " is not numeric; beacons unrestricted");
    return plan;
  }
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  if (ip.is_v6() && ip.is_unspecified()) return plan;  // dual stack: every family is ours

  const bool v4 = ip.is_v4();
  std::vector<std::string> kept;
  for (const auto& t : plan.targets) {
    auto a = asio::ip::make_address(t, ec);
    if (ec || a.is_v4() == v4) {
      kept.push_back(t);  // bad ones are reported by Discovery::start as before
    } else {
      plan.notes.push_back("not sending to " + t + ": this node listens on " +
                           (v4 ? "IPv4" : "IPv6") + " only (" + listen + ")");
    }
  }
  plan.targets = std::move(kept);
  if (ip.is_unspecified()) return plan;

  // A specific address: it is the only source a teammate may learn.
  plan.bind = ip.to_string();
  if (v4) {
    if (!plan.multicast_if.empty() && plan.multicast_if != plan.bind) {
      plan.notes.push_back("multicast_if " + plan.multicast_if + " is not the listen address; " +
                           "sending multicast from " + plan.bind);
    }
    plan.multicast_if = plan.bind;
  } else if (plan.multicast_if6.empty()) {
    for (const auto& a : addresses) {
      auto other = asio::ip::make_address(a.ip, ec);
      if (!ec && other == ip) {
        plan.multicast_if6 = a.iface;
        break;
      }
    }
  }
  return plan;
}

std::vector<LocalAddress> local_addresses() {
  std::vector<LocalAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_name == nullptr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, buf,
                  sizeof buf);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, buf,
                  sizeof buf);
    } else {
      continue;
    }
    out.push_back({buf, i->ifa_name});
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace mesh::discovery
