#include "lib/consensus/held_sends.h"

#include <vector>

#include "gtest/gtest.h"

namespace kmend::consensus_driver {
namespace {

TEST(HoldSendsTest, FlushesOncePerKeyWhenTheOutermostHoldEnds) {
  std::vector<int> flushed;
  EXPECT_FALSE(HoldSends::Active());
  {
    HoldSends outer;
    EXPECT_TRUE(HoldSends::Active());
    int a = 0, b = 0;
    HoldSends::AtEnd(&a, [&] { flushed.push_back(1); });
    {
      HoldSends inner;
      HoldSends::AtEnd(&a, [&] { flushed.push_back(99); });  // same key: not again
      HoldSends::AtEnd(&b, [&] { flushed.push_back(2); });
    }
    EXPECT_TRUE(flushed.empty()) << "an inner hold's end flushed";
    EXPECT_TRUE(HoldSends::Active());
  }
  EXPECT_FALSE(HoldSends::Active());
  EXPECT_EQ(flushed, (std::vector<int>{1, 2}));
}

TEST(HoldSendsTest, FlushNowRunsWhatIsHeldAndTheHoldGoesOn) {
  int n = 0;
  int key = 0;
  HoldSends hold;
  HoldSends::AtEnd(&key, [&] { ++n; });
  HoldSends::FlushNow();
  EXPECT_EQ(n, 1);
  // Registered again after the flush: flushed again at the end.
  HoldSends::AtEnd(&key, [&] { ++n; });
  HoldSends::FlushNow();
  HoldSends::FlushNow();  // nothing held: nothing runs
  EXPECT_EQ(n, 2);
}

}  // namespace
}  // namespace kmend::consensus_driver
