// mesh_embed() (sdk/cmake/meshSDKEmbed.cmake): the generated table holds every byte exactly,
// keys come from BASE_DIR-relative paths or AS, iteration is sorted and find() is exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "web_embed_fixture.hpp"

TEST(WebEmbed, BytesKeysAndLookup) {
  std::vector<std::string> keys;
  for (const auto* f = fixture::files::begin(); f != fixture::files::end(); ++f) {
    keys.emplace_back(f->key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"dir/all-bytes.bin", "empty.txt", "renamed.txt"}));

  const auto* bin = fixture::files::find("dir/all-bytes.bin");
  ASSERT_NE(bin, nullptr);
  ASSERT_EQ(bin->size, 768u);
  for (std::size_t i = 0; i < bin->size; ++i) {
    ASSERT_EQ(bin->bytes[i], static_cast<unsigned char>(i % 256)) << i;
  }
  EXPECT_EQ(bin->bytes[bin->size], 0) << "a NUL follows the data";

  const auto* empty = fixture::files::find("empty.txt");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->size, 0u);
  EXPECT_EQ(empty->data(), "");

  const auto* renamed = fixture::files::find("renamed.txt");
  ASSERT_NE(renamed, nullptr);
  EXPECT_EQ(renamed->data(), "hello\n");

  EXPECT_EQ(fixture::files::find("plain.txt"), nullptr) << "AS replaced the key";
  EXPECT_EQ(fixture::files::find(""), nullptr);
  EXPECT_EQ(fixture::files::find("dir"), nullptr);
  EXPECT_EQ(fixture::files::find("empty.txt2"), nullptr);
}
