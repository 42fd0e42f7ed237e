// The asset store, served by a real http::Server on 127.0.0.1:0 and fetched with the real curl:
// content types, strong ETags from the content, If-None-Match -> 304, loopback only, limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "mesh/web/assets.hpp"
#include "web_test_server.hpp"

using namespace mesh;
using namespace mesh::web;
using mesh::test::curl;
using mesh::test::CurlResult;

namespace {

// Header lookup in the output of curl -i (the last response's headers).
std::string header(const std::string& response, const std::string& name) {
  std::string lower = response;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  std::string key = "\n" + name + ":";
  std::transform(key.begin(), key.end(), key.begin(), ::tolower);
  auto at = lower.find(key);
  if (at == std::string::npos) return "<absent>";
  auto start = at + key.size();
  auto end = response.find('\r', start);
  std::string v = response.substr(start, end - start);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  return v;
}

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

class WebAssets : public ::testing::Test {
 protected:
  void SetUp() override {
    store.register_routes(*server.router);
    ASSERT_EQ(server.start(), "");
  }
  CurlResult get(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"-i"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(server.http(path));
    return curl(args);
  }

  mesh::test::WebServer server;
  AssetStore store;
};

}  // namespace

TEST_F(WebAssets, ServesWithTypeETagAndRevalidation) {
  ASSERT_TRUE(store.put("mesh.css", "", "body{color:red}"));
  auto r = get("/assets/mesh.css");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r.body), "body{color:red}");
  EXPECT_EQ(header(r.body, "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(header(r.body, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(r.body, "X-Content-Type-Options"), "nosniff");
  EXPECT_NE(header(r.body, "Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  const std::string etag = header(r.body, "ETag");
  ASSERT_EQ(etag.size(), 34u) << etag;  // "\"" + 32 hex digits + "\""
  EXPECT_EQ(etag.front(), '"');
  EXPECT_NE(etag.substr(0, 2), "W/") << "a strong validator";

  auto again = get("/assets/mesh.css", {"-H", "If-None-Match: " + etag});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(body_of(again.body), "");
  EXPECT_EQ(header(again.body, "ETag"), etag);
  // In a list, weakly compared, or "*".
  EXPECT_EQ(get("/assets/mesh.css", {"-H", "If-None-Match: \"x\", W/" + etag}).status, 304);
  EXPECT_EQ(get("/assets/mesh.css", {"-H", "If-None-Match: *"}).status, 304);
  EXPECT_EQ(get("/assets/mesh.css", {"-H", "If-None-Match: \"other\""}).status, 200);

  // New bytes, new ETag: the old one no longer revalidates.
  ASSERT_TRUE(store.put("mesh.css", "", "body{color:blue}"));
  auto changed = get("/assets/mesh.css", {"-H", "If-None-Match: " + etag});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(body_of(changed.body), "body{color:blue}");
  EXPECT_NE(header(changed.body, "ETag"), etag);
  // The same bytes always give the same ETag (it is the content hash).
  AssetStore other;
  ASSERT_TRUE(other.put("x.css", "", "body{color:blue}"));
  EXPECT_EQ(other.get("x.css")->etag, header(changed.body, "ETag"));
}

TEST_F(WebAssets, HeadAndPluginAssetsAndMisses) {
  ASSERT_TRUE(store.put("ci/run.js", "", "console.log(1)"));
  ASSERT_TRUE(store.put("ci/logo", "image/png", std::string("\x89PNG", 4)));
  auto js = get("/assets/ci/run.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(header(js.body, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(get("/assets/ci/logo").body, "Content-Type"), "image/png");
  auto head = curl({"-I", server.http("/assets/ci/run.js")});
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(header(head.body, "ETag"), "<absent>");
  EXPECT_EQ(body_of(head.body), "");
  EXPECT_EQ(get("/assets/ci/nope.js").status, 404);
  EXPECT_EQ(get("/assets/").status, 404);
  // The server refuses dot segments itself (400); the store would not resolve them either.
  const int dots = get("/assets/../assets/ci/run.js", {"--path-as-is"}).status;
  EXPECT_TRUE(dots == 400 || dots == 404) << dots;
  EXPECT_FALSE(store.get("../assets/ci/run.js"));
  EXPECT_EQ(get("/assets/ci/run.js/x").status, 404);
  // A stopped plugin's assets go with it.
  store.remove_owner("ci");
  EXPECT_EQ(get("/assets/ci/run.js").status, 404);
}

TEST_F(WebAssets, LoopbackOnlyMembersAreRefused) {
  ASSERT_TRUE(store.put("mesh.js", "", "x"));
  auto member = curl([&] {
    auto a = server.as_member();
    a.push_back(server.https("/assets/mesh.js"));
    return a;
  }());
  EXPECT_EQ(member.status, 403);
  EXPECT_EQ(curl({"-k", server.https("/assets/mesh.js")}).status, 200);  // local TLS client
}

TEST(WebAssetStore, NamesTypesAndLimits) {
  AssetLimits limits;
  limits.max_asset = 10;
  limits.max_total = 20;
  limits.max_count = 3;
  AssetStore store(limits);
  for (const char* bad :
       {"", "A.css", ".x", "-x", "a/b/c", "a//b", "/a", "a/", "a b", "a\nb", "..", "x/.."}) {
    auto st = store.put(bad, "", "x");
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, Errc::invalid);
  }
  EXPECT_FALSE(store.put(std::string(65, 'a'), "", "x"));
  EXPECT_TRUE(store.put(std::string(64, 'a'), "", "x"));
  EXPECT_FALSE(store.put("x.txt", "text/plain\r\nSet-Cookie: a=b", "x")) << "header injection";
  EXPECT_EQ(store.put("big", "", std::string(11, 'x')).error().code, Errc::limit);
  ASSERT_TRUE(store.put("b", "", std::string(10, 'x')));
  EXPECT_EQ(store.put("c", "", std::string(10, 'x')).error().code, Errc::limit) << "total";
  ASSERT_TRUE(store.put("b", "", std::string(5, 'x'))) << "replacing frees the old bytes";
  ASSERT_TRUE(store.put("c", "", std::string(10, 'x')));
  EXPECT_EQ(store.put("d", "", "x").error().code, Errc::limit) << "count";
  EXPECT_EQ(content_type_for("a.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("a.woff2"), "font/woff2");
  EXPECT_EQ(content_type_for("a.json"), "application/json");
  EXPECT_EQ(content_type_for("noext"), "application/octet-stream");
}

TEST(WebAssetStore, ConcurrentPutsAndGetsSeeWholeAssets) {
  // The ETag of every size the writer uses, computed apart: a reader must only ever see an
  // asset whose ETag belongs to its bytes.
  std::map<std::size_t, std::string> etags;
  for (std::size_t n = 0; n < 100; ++n) {
    AssetStore probe;
    ASSERT_TRUE(probe.put("a.txt", "", std::string(n, 'x')));
    etags[n] = probe.get("a.txt")->etag;
  }
  AssetStore store;
  ASSERT_TRUE(store.put("a.txt", "", ""));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      (void)store.put("a.txt", "", std::string(static_cast<std::size_t>(i % 100), 'x'));
    }
    stop = true;
  });
  std::size_t mismatches = 0, reads = 0;
  while (!stop || reads == 0) {
    auto a = store.get("a.txt");
    ++reads;
    if (!a || etags[a->data.size()] != a->etag) ++mismatches;
  }
  writer.join();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(store.get("a.txt")->data.size(), 1999u % 100);
}

TEST(WebETag, Matching) {
  EXPECT_TRUE(etag_matches("\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches(" \"b\" , \"a\" ", "\"a\""));
  EXPECT_TRUE(etag_matches("W/\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches("*", "\"a\""));
  EXPECT_FALSE(etag_matches("", "\"a\""));
  EXPECT_FALSE(etag_matches("\"ab\"", "\"a\""));
  EXPECT_FALSE(etag_matches("a", "\"a\""));
}
