// Release archives: what is accepted, what is refused before anything is written, and that a
// refused or failed extraction leaves nothing behind. Hostile archives are written byte by
// byte (test_util's make_tar), so each holds exactly the entry under test.
#include "archive.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;
using test::TarEntry;
using test::TempDir;

constexpr const char* kTop = "mesh-1.2.3-linux-x86_64";

TarEntry dir(const std::string& p, unsigned mode = 0755) {
  return {p, '5', mode, "", "", -1};
}
TarEntry file(const std::string& p, const std::string& data, unsigned mode = 0644) {
  return {p, '0', mode, data, "", -1};
}
TarEntry symlink(const std::string& p, const std::string& target) {
  return {p, '2', 0777, "", target, -1};
}
std::string top(const std::string& rel) {
  return std::string(kTop) + "/" + rel;
}

std::vector<TarEntry> good_entries() {
  return {dir(std::string(kTop) + "/"),
          dir(top("bin/")),
          file(top("bin/mesh"), "#!/bin/sh\necho mesh\n", 0775),
          dir(top("lib/")),
          dir(top("lib/mesh/")),
          dir(top("lib/mesh/plugins/")),
          file(top("lib/mesh/plugins/replication.so"), test::random_bytes(70000), 0644),
          file(top("lib/mesh/plugins/replication.json"), "{}\n", 0664),
          symlink(top("lib/mesh/plugins/current.so"), "replication.so"),
          symlink(top("lib/mesh/bin"), "../../bin"),
          dir(top("share/")),
          file(top("share/README"), "hello\n", 0600)};
}

class Archive : public ::testing::Test {
 protected:
  fs::path write(const std::vector<TarEntry>& entries, const std::string& name = "a.tar.gz") {
    fs::path p = tmp_ / name;
    test::write_tar_gz(p, entries);
    return p;
  }
  OpenFile open(const fs::path& p) {
    auto f = OpenFile::open_read(p);
    EXPECT_TRUE(f) << f.error().message;
    return std::move(*f);
  }
  // Refused by the check, and extraction writes nothing at all.
  void expect_refused(const std::vector<TarEntry>& entries, Errc code, const std::string& why,
                      const ArchiveLimits& limits = {}) {
    auto f = open(write(entries));
    auto checked = check_archive(f, kTop, limits);
    ASSERT_FALSE(checked) << "accepted (" << why << ")";
    EXPECT_EQ(checked.error().code, code) << why << ": " << checked.error().message;
    fs::path target = tmp_ / "versions" / "1.2.3";
    auto extracted = extract_archive(f, kTop, target, limits);
    ASSERT_FALSE(extracted) << why;
    EXPECT_FALSE(fs::exists(fs::symlink_status(target))) << why;
    if (fs::exists(target.parent_path())) {
      EXPECT_TRUE(fs::is_empty(target.parent_path())) << why << ": left something behind";
    }
    EXPECT_FALSE(fs::exists(fs::symlink_status(tmp_ / "evil"))) << why;
    EXPECT_FALSE(fs::exists(fs::symlink_status(tmp_ / "versions" / "evil"))) << why;
  }

  TempDir tmp_;
};

TEST_F(Archive, AGoodArchiveExtractsWithNormalisedModes) {
  auto entries = good_entries();
  auto f = open(write(entries));
  auto checked = check_archive(f, kTop);
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(checked->files, 4u);
  EXPECT_EQ(checked->symlinks, 2u);
  EXPECT_EQ(checked->dirs, 6u);

  fs::path target = tmp_ / "versions" / "1.2.3";
  auto extracted = extract_archive(f, kTop, target);
  ASSERT_TRUE(extracted) << extracted.error().message;
  EXPECT_EQ(test::read_file(target / "bin/mesh"), entries[2].data);
  EXPECT_EQ(test::read_file(target / "lib/mesh/plugins/replication.so"), entries[6].data);
  EXPECT_EQ(fs::read_symlink(target / "lib/mesh/plugins/current.so"), "replication.so");
  EXPECT_TRUE(fs::exists(target / "lib/mesh/bin/mesh"));  // through the in-tree link
  auto mode = [&](const char* rel) {
    struct stat st {};
    EXPECT_EQ(::lstat((target / rel).c_str(), &st), 0) << rel;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode("bin/mesh"), 0755u);                           // 0775 -> 0755
  EXPECT_EQ(mode("lib/mesh/plugins/replication.json"), 0644u);  // 0664 -> 0644
  EXPECT_EQ(mode("share/README"), 0644u);                       // 0600 -> 0644
  EXPECT_EQ(mode("bin"), 0755u);
  EXPECT_EQ(mode(""), 0755u);
  // Only the target is left in its parent: the partial directory was renamed into place.
  std::size_t n = 0;
  for (auto& e : fs::directory_iterator(target.parent_path())) {
    (void)e;
    ++n;
  }
  EXPECT_EQ(n, 1u);
}

TEST_F(Archive, LeadingDotSlashAndMissingDirectoryEntriesAreFine) {
  auto f = open(write({file("./" + top("bin/mesh"), "x", 0755), file(top("a/b/c"), "y")}));
  fs::path target = tmp_ / "v";
  auto r = extract_archive(f, kTop, target);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(target / "a/b/c"), "y");
}

TEST_F(Archive, AnExistingTargetIsNeverOverwritten) {
  fs::path target = tmp_ / "versions" / "1.2.3";
  fs::create_directories(target);
  test::write_file(target / "keep", "old");
  auto f = open(write(good_entries()));
  auto r = extract_archive(f, kTop, target);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_EQ(test::read_file(target / "keep"), "old");
  EXPECT_FALSE(fs::exists(target / "bin"));
}

TEST_F(Archive, PathsLeavingTheTreeAreRefused) {
  expect_refused({dir(top("")), file("../evil", "x")}, Errc::unsafe_archive, "../ at the start");
  expect_refused({dir(top("")), file(top("../../evil"), "x")}, Errc::unsafe_archive, "top/../..");
  expect_refused({dir(top("")), file(top("bin/../../evil"), "x")}, Errc::unsafe_archive,
                 "inner ..");
  expect_refused({dir(top("")), file("/tmp/evil", "x")}, Errc::unsafe_archive, "absolute");
  expect_refused({file("other/x", "x")}, Errc::unsafe_archive, "another top-level directory");
  expect_refused({file(top("x"), "x"), file("evil", "x")}, Errc::unsafe_archive, "a second top");
  expect_refused({file(top("a//b"), "x")}, Errc::unsafe_archive, "empty component");
  expect_refused({file(top("./b"), "x")}, Errc::unsafe_archive, "inner .");
  expect_refused({file(top("a\\..\\b"), "x")}, Errc::unsafe_archive, "backslash");
  expect_refused({file(top("a\nb"), "x")}, Errc::unsafe_archive, "newline");
  expect_refused({file(kTop, "x")}, Errc::unsafe_archive, "the top level is a file");
}

TEST_F(Archive, LinksLeavingTheTreeAreRefused) {
  // A symlink to /etc, then a file written through it.
  expect_refused({dir(top("")), symlink(top("etc"), "/etc"), file(top("etc/evil"), "x")},
                 Errc::unsafe_archive, "symlink to /etc then a file through it");
  expect_refused({dir(top("")), symlink(top("up"), "../.."), file(top("up/evil"), "x")},
                 Errc::unsafe_archive, "relative symlink out, then a file through it");
  expect_refused({dir(top("")), symlink(top("up"), "..")}, Errc::unsafe_archive,
                 "symlink to the parent of the tree");
  expect_refused({dir(top("")), symlink(top("a/b/up"), "../../../x")}, Errc::unsafe_archive,
                 "deep relative escape");
  // Lexically inside, but through another link: a/b/c/s -> the top, so t resolves outside.
  expect_refused({symlink(top("a/b/c/s"), "../../.."), symlink(top("t"), "a/b/c/s/../..")},
                 Errc::unsafe_archive, "a link through a link");
  // Writing through an in-tree symlink is refused too (the extraction could be redirected).
  expect_refused({dir(top("real/")), symlink(top("alias"), "real"), file(top("alias/x"), "x")},
                 Errc::unsafe_archive, "a file through an in-tree link");
  expect_refused({{top("h"), '1', 0644, "", top("bin/mesh"), -1}}, Errc::unsafe_archive,
                 "hard link");
  expect_refused({{top("h"), '1', 0644, "", "/etc/passwd", -1}}, Errc::unsafe_archive,
                 "hard link to /etc/passwd");
  expect_refused({symlink(top("empty"), "")}, Errc::unsafe_archive, "empty link target");
}

TEST_F(Archive, OnlyFilesDirectoriesAndSymlinksWithSaneModes) {
  expect_refused({{top("dev"), '3', 0644, "", "", -1}}, Errc::unsafe_archive, "char device");
  expect_refused({{top("blk"), '4', 0644, "", "", -1}}, Errc::unsafe_archive, "block device");
  expect_refused({{top("fifo"), '6', 0644, "", "", -1}}, Errc::unsafe_archive, "fifo");
  expect_refused({file(top("suid"), "x", 04755)}, Errc::unsafe_archive, "setuid");
  expect_refused({file(top("sgid"), "x", 02755)}, Errc::unsafe_archive, "setgid");
  expect_refused({dir(top("sticky/"), 01777)}, Errc::unsafe_archive, "sticky dir");
  expect_refused({file(top("ww"), "x", 0666)}, Errc::unsafe_archive, "world-writable");
  expect_refused({file(top("x"), "1"), file(top("x"), "2")}, Errc::unsafe_archive, "duplicate");
  expect_refused({dir(top("d/")), symlink(top("d"), "elsewhere")}, Errc::unsafe_archive,
                 "a directory replaced by a link");
  expect_refused({file(top("f"), "x"), file(top("f/x"), "y")}, Errc::unsafe_archive,
                 "a file used as a directory");
}

TEST_F(Archive, LimitsStopBombsBeforeAnythingIsWritten) {
  // A header declaring 8 GiB (with no data behind it): refused from the header alone.
  expect_refused({dir(top("")), {top("big"), '0', 0644, "", "", 077777777777}}, Errc::too_large,
                 "huge declared size");
  ArchiveLimits limits;
  limits.max_entries = 5;
  std::vector<TarEntry> many;
  for (int i = 0; i < 6; ++i) many.push_back(file(top("f" + std::to_string(i)), "x"));
  expect_refused(many, Errc::too_large, "too many entries", limits);
  limits = {};
  limits.max_total_bytes = 1000;
  expect_refused({file(top("a"), std::string(600, 'a')), file(top("b"), std::string(600, 'b'))},
                 Errc::too_large, "total size", limits);
  limits = {};
  limits.max_entry_bytes = 100;
  expect_refused({file(top("a"), std::string(101, 'a'))}, Errc::too_large, "entry size", limits);
  limits = {};
  limits.max_path = 150;
  expect_refused({file(top(std::string(140, 'p')), "x")}, Errc::unsafe_archive, "long path",
                 limits);
  limits = {};
  limits.max_depth = 4;
  expect_refused({file(top("a/b/c/d"), "x")}, Errc::unsafe_archive, "too deep", limits);
  // Headers are not file data: 900 KiB of pax comment (compressing to a few KiB) behind a
  // one-byte file exceed what the limits allow the expanded stream to hold.
  limits = {};
  limits.max_total_bytes = 64 * 1024;
  std::vector<TarEntry> bomb = {
      {"PaxHeader", 'x', 0644, test::pax_record("comment", std::string(900 << 10, 'z')), "", -1},
      file(top("a"), "x")};
  expect_refused(bomb, Errc::too_large, "expanded headers", limits);
  // libarchive itself refuses a single extended header over 1 MiB.
  std::vector<TarEntry> huge_header = {
      {"PaxHeader", 'x', 0644, test::pax_record("comment", std::string(4 << 20, 'z')), "", -1},
      file(top("a"), "x")};
  expect_refused(huge_header, Errc::invalid, "a 4 MiB extended header");
}

TEST_F(Archive, CorruptTruncatedOrForeignInputIsRefused) {
  auto good = test::gzip(test::make_tar(good_entries()));
  test::write_file(tmp_ / "cut.tar.gz", good.substr(0, good.size() / 2));
  auto f = open(tmp_ / "cut.tar.gz");
  auto r = check_archive(f, kTop);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid) << r.error().message;
  EXPECT_FALSE(extract_archive(f, kTop, tmp_ / "v"));
  EXPECT_FALSE(fs::exists(tmp_ / "v"));

  test::write_file(tmp_ / "random", test::random_bytes(5000));
  auto g = open(tmp_ / "random");
  EXPECT_FALSE(check_archive(g, kTop));

  test::write_file(tmp_ / "empty.tar.gz", test::gzip(std::string(1024, '\0')));
  auto h = open(tmp_ / "empty.tar.gz");
  auto e = check_archive(h, kTop);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::invalid);
}

TEST_F(Archive, AnInputLibarchiveRejectsWithoutAMessageGivesAnError) {
  // Found by fuzz_updater_archive: archive_read_open_fd failed and archive_error_string()
  // returned null, which crashed the error path.
  static const unsigned char kInput[] = {
      0x1f, 0x8b, 0x08, 0x00, 0x83, 0x88, 0x11, 0x6b, 0x02, 0xff, 0xed, 0xd5, 0xb1, 0x0e, 0xc2,
      0x20, 0x14, 0x85, 0xe1, 0x3b, 0xfb, 0x14, 0x18, 0xf7, 0x16, 0x10, 0xda, 0xe7, 0xb1, 0xa6,
      0x49, 0x89, 0xb5, 0x36, 0x16, 0x7d, 0x7e, 0x49, 0x9d, 0x34, 0xc6, 0xe8, 0x80, 0x0e, 0xfd,
      0xbf, 0x40, 0x60, 0x63, 0x38, 0xb9, 0x87, 0x78, 0x1a, 0x4b, 0xc9, 0x4c, 0x27, 0xb5, 0xf7,
      0xf3, 0x99, 0x3c, 0x9f, 0x2f, 0xee, 0x95, 0x77, 0xb5, 0x28, 0x2f, 0x3f, 0x70, 0x99, 0xe2,
      0xee, 0x9c, 0x9e, 0x94, 0x65, 0x8a, 0x29, 0xff, 0x26, 0x0c, 0xe5, 0xb1, 0x9d, 0xba, 0xbf,
      0xe5, 0x6f, 0xec, 0x63, 0xfe, 0x46, 0x9b, 0xda, 0x8a, 0xd2, 0xe4, 0x9f, 0xdd, 0x66, 0x3d,
      0xc7, 0x3f, 0x75, 0x2b, 0xc1, 0x42, 0xe7, 0xbf, 0x0f, 0x4d, 0xda, 0xc3, 0x21, 0xe7, 0xfc,
      0x57, 0xce, 0x7d, 0xde, 0xff, 0xc6, 0x6a, 0xeb, 0x45, 0xd9, 0xa2, 0xc8, 0xde, 0x4d, 0x75,
      0xf4, 0xff, 0x5c, 0xb6, 0xd7, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xe7, 0x00, 0x00,
      0x00, 0x00, 0x00, 0xef, 0xdc, 0x00, 0x72, 0x7f, 0xdf, 0x27, 0x28, 0x00, 0x00};
  test::write_file(tmp_ / "odd.tar.gz",
                   std::string(reinterpret_cast<const char*>(kInput), sizeof kInput));
  auto f = open(tmp_ / "odd.tar.gz");
  auto r = check_archive(f, "top");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid) << r.error().message;
}

}  // namespace
}  // namespace mesh::updater
