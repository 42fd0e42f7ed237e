// Address selection and the configured-address book (core/app/src/team/addresses).
#include <gtest/gtest.h>
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
