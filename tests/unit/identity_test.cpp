#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "mesh/base/encoding.hpp"
#include "mesh/identity/identity.hpp"

using namespace mesh;
using namespace mesh::identity;
namespace fs = std::filesystem;

namespace {
fs::path temp_root() {
  auto p = fs::temp_directory_path() /
           ("mesh-id-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  fs::create_directories(p);
  return p;
}
}  // namespace

TEST(Identity, CreatesKeyWith0600AndReloadsTheSameKey) {
  auto root = temp_root();
  auto a = Identity::load_or_create(root);
  ASSERT_TRUE(a) << a.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(Identity::key_path(root).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = Identity::load_or_create(root);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->public_key(), b->public_key());
  EXPECT_TRUE(a->id().starts_with("mesh:"));
  EXPECT_EQ(a->id().size(), 5u + 52u);
  fs::remove_all(root);
}

TEST(Identity, RefusesKeyReadableByOthersAndGarbage) {
  auto root = temp_root();
  ASSERT_TRUE(Identity::load_or_create(root));
  fs::permissions(Identity::key_path(root), fs::perms::group_read, fs::perm_options::add);
  auto r = Identity::load(root);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos);
  fs::permissions(Identity::key_path(root), fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(Identity::key_path(root)) << "mesh-ed25519-seed-v1\nnot-base64!!\n";
  EXPECT_FALSE(Identity::load(root));
  fs::remove_all(root);
}

TEST(Identity, SignVerify) {
  auto id = Identity::generate();
  auto sig = id.sign(as_bytes("hello"));
  EXPECT_TRUE(id.public_key().verify(as_bytes("hello"), sig));
  EXPECT_FALSE(id.public_key().verify(as_bytes("hellO"), sig));
  sig[3] ^= 1;
  EXPECT_FALSE(id.public_key().verify(as_bytes("hello"), sig));
}

TEST(Identity, ParseIdRoundTripAndRejects) {
  auto id = Identity::generate();
  auto parsed = parse_id(id.id());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, id.public_key());
  EXPECT_FALSE(parse_id("mesh:abc"));
  EXPECT_FALSE(parse_id(""));
  EXPECT_FALSE(parse_id(std::string(500, 'a')));
}

TEST(Identity, CertificateCarriesTheIdentityKey) {
  auto id = Identity::generate();
  auto tls = id.tls_material("alice");
  ASSERT_TRUE(tls) << tls.error().message;
  BIO* bio = BIO_new_mem_buf(tls->cert_pem.data(), static_cast<int>(tls->cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(cert)), 1);  // self-signed by that key
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  ASSERT_GT(len, 0);
  auto key = key_from_cert_der({der, static_cast<std::size_t>(len)});
  OPENSSL_free(der);
  X509_free(cert);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(*key, id.public_key());
}

TEST(Identity, SpkiPinHasCurlFormat) {
  auto id = Identity::generate();
  auto pin = id.public_key().spki_pin();
  EXPECT_TRUE(pin.starts_with("sha256//"));
  EXPECT_EQ(pin.size(), 8u + 44u);
}
