// Address selection and the configured-address book (core/app/src/team/addresses).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "addresses.hpp"
#include "mesh/gossip/token.hpp"

using namespace mesh;
using namespace mesh::app::team;
namespace fs = std::filesystem;

namespace {

const std::vector<InterfaceAddress> kMachine{
    {"127.0.0.1", false, true, true, false},
    {"::1", true, true, true, false},
    {"192.168.1.20", false, true, false, false},
    {"10.9.9.9", false, false, false, false},  // down
    {"fd00::20", true, true, false, false},
    {"fe80::1", true, true, false, true},  // link-local
};

TEST(OwnAddresses, AdvertiseWins) {
  EXPECT_EQ(own_addresses("0.0.0.0:7979", {"example.org:443"}, kMachine),
            std::vector<std::string>{"example.org:443"});
}

TEST(OwnAddresses, LoopbackAndSpecificListensAnnounceThemselves) {
  EXPECT_EQ(own_addresses("127.0.0.1:4000", {}, kMachine),
            std::vector<std::string>{"127.0.0.1:4000"});
  EXPECT_EQ(own_addresses("[::1]:4000", {}, kMachine), std::vector<std::string>{"[::1]:4000"});
  EXPECT_EQ(own_addresses("192.168.1.20:4000", {}, kMachine),
            std::vector<std::string>{"192.168.1.20:4000"});
}

TEST(OwnAddresses, AnIpv4WildcardAnnouncesTheUpIpv4Interfaces) {
  EXPECT_EQ(own_addresses("0.0.0.0:7979", {}, kMachine),
            std::vector<std::string>{"192.168.1.20:7979"});
}

TEST(OwnAddresses, AnIpv6WildcardAddsGlobalIpv6NeverLinkLocal) {
  EXPECT_EQ(own_addresses("[::]:7979", {}, kMachine),
            (std::vector<std::string>{"192.168.1.20:7979", "[fd00::20]:7979"}));
}

TEST(OwnAddresses, NoInterfaceFallsBackToLoopback) {
  EXPECT_EQ(own_addresses("0.0.0.0:7979", {}, {}), std::vector<std::string>{"127.0.0.1:7979"});
}

TEST(OwnAddresses, AtMostTheTokenLimit) {
  std::vector<InterfaceAddress> many;
  for (int i = 0; i < 40; ++i) many.push_back({"10.0.0." + std::to_string(i), false, true});
  EXPECT_EQ(own_addresses("0.0.0.0:1", {}, many).size(), gossip::kMaxTokenAddresses);
}

TEST(OwnAddresses, TheRealMachineListsOnlyUsableAddresses) {
  // Whatever this machine has: never a loopback or link-local address for a wildcard listen.
  for (const auto& a : own_addresses("[::]:7979", {}, interface_addresses())) {
    EXPECT_TRUE(gossip::valid_address(a)) << a;
    EXPECT_EQ(a.find("[fe80"), std::string::npos) << a;
  }
}

// The host tag: stable for one host and network namespace, different in another namespace
// (whose 127.0.0.1 is another loopback), and 32 hex digits.
TEST(HostScope, OneTagPerHostAndNetworkNamespace) {
  const std::string here = host_scope();
  ASSERT_EQ(here.size(), 32u) << here;
  EXPECT_EQ(here.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(host_scope(), here);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(3);
    std::string there = host_scope();
    ::_exit(::write(fds[1], there.data(), there.size()) == static_cast<ssize_t>(there.size()) ? 0
                                                                                              : 4);
  }
  ::close(fds[1]);
  char buf[64] = {};
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    GTEST_SKIP() << "unshare(CLONE_NEWNET) needs root; CI runs this as root";
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0))), here);
}

struct Book : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / ("mesh-addrbook-" + std::to_string(::getpid()));
  Book() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Book() override { fs::remove_all(dir); }
};

TEST_F(Book, AddedAddressesPersistWithoutDuplicates) {
  auto key = identity::Identity::generate().public_key();
  auto other = identity::Identity::generate().public_key();
  {
    AddressBook book(dir / "addresses.json");
    ASSERT_TRUE(book.add(key, "10.0.0.1:7979"));
    ASSERT_TRUE(book.add(key, "10.0.0.1:7979"));
    ASSERT_TRUE(book.add(key, "10.0.0.2:7979"));
    EXPECT_TRUE(book.get(other).empty());
  }
  AddressBook reopened(dir / "addresses.json");
  EXPECT_EQ(reopened.get(key), (std::vector<std::string>{"10.0.0.1:7979", "10.0.0.2:7979"}));
}

TEST_F(Book, AtMostTheTokenLimitPerMember) {
  auto key = identity::Identity::generate().public_key();
  AddressBook book(dir / "addresses.json");
  for (std::size_t i = 0; i < gossip::kMaxTokenAddresses; ++i) {
    ASSERT_TRUE(book.add(key, "10.0.0." + std::to_string(i) + ":1"));
  }
  auto over = book.add(key, "10.0.1.1:1");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::limit);
  EXPECT_EQ(book.get(key).size(), gossip::kMaxTokenAddresses);
}

TEST_F(Book, AFailedWriteChangesNothing) {
  auto key = identity::Identity::generate().public_key();
  AddressBook book(dir / "missing-dir" / "addresses.json");
  EXPECT_FALSE(book.add(key, "10.0.0.1:1"));
  EXPECT_TRUE(book.get(key).empty());
}

}  // namespace
