#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "mesh/base/encoding.hpp"
#include "mesh/identity/identity.hpp"
#include "mesh/identity/local_tls.hpp"

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

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr parse_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(cert);
}

// The certificate's subjectAltNames as "DNS:x" / "IP:a.b.c.d" / "IP:v6" strings.
std::vector<std::string> san_of(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.push_back("DNS:" +
                    std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                                ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      const auto* b = ASN1_STRING_get0_data(n->d.iPAddress);
      const int len = ASN1_STRING_length(n->d.iPAddress);
      out.push_back("IP:" + to_hex({b, static_cast<std::size_t>(len)}));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

const std::vector<std::string> kLocalNames = {"DNS:localhost", "IP:7f000001",
                                              "IP:00000000000000000000000000000001"};

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

TEST(Identity, NodeCertificateIsTheSameOnEveryStartAndNamesThisMachine) {
  auto root = temp_root();
  auto id = Identity::load_or_create(root);
  ASSERT_TRUE(id);
  auto first = id->tls_material("alice");
  ASSERT_TRUE(first);
  auto again = Identity::load(root);
  ASSERT_TRUE(again);
  auto second = again->tls_material("alice");
  ASSERT_TRUE(second);
  EXPECT_EQ(first->cert_pem, second->cert_pem);  // byte-identical across restarts
  auto cert = parse_pem(first->cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(san_of(cert.get()), kLocalNames);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
  // Another key, another certificate (and serial).
  auto other = Identity::generate().tls_material("alice");
  ASSERT_TRUE(other);
  EXPECT_NE(other->cert_pem, first->cert_pem);
  auto ocert = parse_pem(other->cert_pem);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()), X509_get0_serialNumber(ocert.get())), 0);
  fs::remove_all(root);
}

TEST(LocalTls, P256CertificateIsMadeOnceAndKept) {
  auto root = temp_root();
  auto made = load_or_create_local_tls(root, "alice");
  ASSERT_TRUE(made) << made.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(local_tls_key_path(root).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(::stat(local_tls_cert_path(root).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto cert = parse_pem(made->cert_pem);
  ASSERT_TRUE(cert);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_EQ(EVP_PKEY_get_id(pub), EVP_PKEY_EC);
  char group[32] = {};
  std::size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &len), 1);
  EXPECT_EQ(std::string(group, len), "prime256v1");
  EXPECT_EQ(san_of(cert.get()), kLocalNames);
  EXPECT_EQ(X509_verify(cert.get(), pub), 1);
  // The next start loads the same pair.
  auto loaded = load_or_create_local_tls(root, "renamed");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->cert_pem, made->cert_pem);
  EXPECT_EQ(loaded->key_pem, made->key_pem);
  fs::remove_all(root);
}

TEST(LocalTls, BadFilesAreRefusedWithTheFix) {
  auto root = temp_root();
  ASSERT_TRUE(load_or_create_local_tls(root, "a"));
  fs::permissions(local_tls_key_path(root), fs::perms::group_read, fs::perm_options::add);
  auto readable = load_or_create_local_tls(root, "a");
  ASSERT_FALSE(readable);
  EXPECT_NE(readable.error().message.find("chmod 600"), std::string::npos);
  fs::permissions(local_tls_key_path(root), fs::perms::owner_read | fs::perms::owner_write);
  // A certificate of another key.
  auto other_root = temp_root();
  auto other = load_or_create_local_tls(other_root, "b");
  ASSERT_TRUE(other);
  {
    std::ofstream f(local_tls_cert_path(root), std::ios::trunc);
    f << other->cert_pem;
  }
  auto mismatch = load_or_create_local_tls(root, "a");
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("does not match"), std::string::npos);
  {
    std::ofstream f(local_tls_cert_path(root), std::ios::trunc);
    f << "garbage";
  }
  auto garbage = load_or_create_local_tls(root, "a");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("remove"), std::string::npos);
  // A key without its certificate (a crash between the writes) makes a new pair.
  fs::remove(local_tls_cert_path(root));
  auto remade = load_or_create_local_tls(root, "a");
  ASSERT_TRUE(remade) << remade.error().message;
  EXPECT_TRUE(load_or_create_local_tls(root, "a"));
  fs::remove_all(root);
  fs::remove_all(other_root);
}

TEST(LocalTls, CaFileHoldsBothCertificates) {
  auto root = temp_root();
  auto id = Identity::load_or_create(root);
  ASSERT_TRUE(id);
  auto node = id->tls_material("alice");
  auto local = load_or_create_local_tls(root, "alice");
  ASSERT_TRUE(node && local);
  ASSERT_TRUE(write_local_ca(root, node->cert_pem, local->cert_pem));
  std::ifstream in(local_ca_path(root));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find(node->cert_pem), std::string::npos);
  EXPECT_NE(text.find(local->cert_pem), std::string::npos);
  EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos);
  // Unchanged content is not rewritten (the file keeps its inode).
  struct stat before {
  }, after{};
  ASSERT_EQ(::stat(local_ca_path(root).c_str(), &before), 0);
  ASSERT_TRUE(write_local_ca(root, node->cert_pem, local->cert_pem));
  ASSERT_EQ(::stat(local_ca_path(root).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(after.st_mode & 0777, 0644);
  fs::remove_all(root);
}
