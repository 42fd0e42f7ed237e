// The pkt-line readers on their own: the receive-pack command sniffer and the upload-pack
// sideband tracker, on hand-made streams cut at every byte.
#include <gtest/gtest.h>

#include <string>

#include "pkt_line.hpp"
#include "receive_commands.hpp"
#include "sideband.hpp"

using namespace mesh::repl;

namespace {
std::string P(const std::string& s) {
  return *pkt_line(s);
}
const std::string Z(40, '0'), A(40, 'a'), B(40, 'b');
}  // namespace

TEST(CommandSniffer, ReadsCommandsAndCapabilitiesInAnyPieces) {
  std::string body = P(Z + " " + A + " refs/heads/main" + std::string(1, '\0') +
                       " report-status side-band-64k agent=git/2\n") +
                     P(B + " " + Z + " refs/heads/old\n") + "0000PACK....";
  for (std::size_t piece = 1; piece <= body.size(); piece += 7) {
    CommandSniffer s;
    for (std::size_t i = 0; i < body.size(); i += piece) s.feed(body.substr(i, piece));
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.sideband(), 2);
    EXPECT_TRUE(s.report_status());
    ASSERT_EQ(s.list().size(), 2u) << piece;
    EXPECT_EQ(s.list()[0].ref, "refs/heads/main");
    EXPECT_EQ(s.list()[0].new_oid, A);
    EXPECT_EQ(s.list()[1].ref, "refs/heads/old");
    EXPECT_EQ(s.list()[1].new_oid, Z);
  }
  CommandSniffer probe;
  probe.feed("0000");
  EXPECT_FALSE(probe.commands());
  CommandSniffer garbage;
  garbage.feed("this is not a pack");
  EXPECT_FALSE(garbage.commands());
  EXPECT_TRUE(garbage.done());
}

TEST(SidebandTracker, OnlyAPackOnChannelOneTakesANote) {
  // Protocol v2 fetch: acknowledgments, a delimiter, then the packfile section.
  std::string v2 = P("acknowledgments\n") + P("ACK " + A + "\n") + P("ready\n") + "0001" +
                   P("packfile\n") + P("\x01PACK....") + P("\x02progress\n") + "0000";
  for (std::size_t piece = 1; piece <= v2.size(); ++piece) {
    SidebandTracker t;
    for (std::size_t i = 0; i < v2.size(); i += piece) t.feed(v2.substr(i, piece));
    EXPECT_TRUE(t.pack_on_sideband()) << piece;
  }
  SidebandTracker ls_refs;
  ls_refs.feed(P(A + " refs/heads/main\n") + "0000");
  EXPECT_FALSE(ls_refs.pack_on_sideband());
  SidebandTracker negotiation;  // a v0 round without a pack
  negotiation.feed(P("ACK " + A + " common\n") + P("NAK\n"));
  EXPECT_FALSE(negotiation.pack_on_sideband());
  SidebandTracker raw;  // a pack without sideband: not pkt-lines
  raw.feed(P("NAK\n") + "PACK\x00\x00\x00\x02 binary" + P("\x01x"));
  EXPECT_FALSE(raw.pack_on_sideband());
}

TEST(SidebandMessage, OnePacketPerLineWithinTheSize) {
  std::string m = sideband_message("one\ntwo", 1);
  EXPECT_EQ(m, P("\x02one\n") + P("\x02two\n"));
  std::string big = sideband_message(std::string(5000, 'x'), 1);
  EXPECT_EQ(big.size(), 1000u);  // cut to side-band's 1000-byte packets
  EXPECT_EQ(*pkt_length(big.substr(0, 4)), 1000u);
}
