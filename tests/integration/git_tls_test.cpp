// Any plugin's libgit2 reaches members over https through the host's TLS stream (issue #8):
// test-git clones from alice on bob while bob's replication plugin is stopped, accepted only
// when the certificate is the member it pinned. (The stream used to be replication's, so with
// replication stopped every other plugin's https fetch failed.)
#include <gtest/gtest.h>

#include "trio.hpp"

using namespace mesh::test;

namespace {

std::string id_of(const Node& n) {
  auto doc = n.mesh_json({"id"});
  return doc.is_object() ? std::string(doc.at("id").as_string()) : "";
}

bool plugin_running(const Node& n, const std::string& id) {
  auto doc = n.mesh_json({"plugins"});
  if (!doc.is_array()) return false;
  for (const auto& e : doc.as_array()) {
    if (e.at("id").as_string() == id) return e.at("state").as_string() == "running";
  }
  return false;
}

}  // namespace

TEST(GitTls, AnyPluginClonesFromAMemberPinnedToItsKeyWithReplicationStopped) {
  Trio t("gittls", {"replication", "test-git"});
  t.start_and_pair();
  auto work = t.make_repo("app", 2);
  ASSERT_EQ(t.git({"push", "-q", Trio::http(t.a, "app"), "main"}, work).exit, 0);
  const std::string head = t.rev(work, "HEAD");
  ASSERT_TRUE(eventually([&] { return refs_of(t.b, "app")["refs/heads/main"] == head; },
                         std::chrono::seconds(30)));

  // Replication off on bob: its plugin stops, test-git stays.
  t.b.write_config({"test-git"});
  ASSERT_EQ(t.b.mesh({"reload"}).exit, 0);
  ASSERT_TRUE(eventually([&] { return !plugin_running(t.b, "replication"); }));
  ASSERT_TRUE(plugin_running(t.b, "test-git"));

  const std::string url = "https://" + t.a.listen() + "/app.git";
  const std::string alice = id_of(t.a), carol = id_of(t.c);
  ASSERT_FALSE(alice.empty());

  auto pinned = t.b.mesh({"git-clone", url, alice});
  EXPECT_EQ(pinned.exit, 0) << pinned.out << pinned.err;
  EXPECT_NE(pinned.out.find(head + " refs/heads/main"), std::string::npos) << pinned.out;

  // The same server pinned to another member: refused by the plugin's certificate check.
  auto wrong = t.b.mesh({"git-clone", url, carol});
  EXPECT_EQ(wrong.exit, 1) << wrong.out << wrong.err;
  EXPECT_NE((wrong.out + wrong.err).find("the server is not " + carol), std::string::npos)
      << wrong.out << wrong.err;

  auto any = t.b.mesh({"git-clone", url, "any"});
  EXPECT_EQ(any.exit, 0) << any.out << any.err;
  EXPECT_NE(any.out.find(head + " refs/heads/main"), std::string::npos) << any.out;

  // Not a member's address (this node's own plain listener is no TLS member server): an
  // error, not a hang.
  auto plain = t.b.mesh({"git-clone", "https://127.0.0.1:9/app.git", "any"});
  EXPECT_EQ(plain.exit, 1) << plain.out << plain.err;
  EXPECT_NE(plain.err.find("clone failed"), std::string::npos) << plain.err;
}
