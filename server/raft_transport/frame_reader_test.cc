// FrameReader over a real socket pair: frames arriving together, split at
// every byte, larger than the read buffer, cut off, or of a foreign length.
#include "server/raft_transport/frame_reader.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/raft_transport/tcp_socket.h"

namespace kmend::raft_transport::tcp {
namespace {

class FrameReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  int reader_fd() const { return fds_[0]; }
  void Send(const std::string& bytes) { ASSERT_TRUE(WriteAll(fds_[1], bytes.data(), bytes.size())); }
  void CloseWriter() {
    close(fds_[1]);
    fds_[1] = -1;
  }
  int fds_[2] = {-1, -1};
};

tserver::RaftMessageRequestPB Message(const std::string& tablet, size_t payload) {
  tserver::RaftMessageRequestPB req;
  auto* m = req.add_messages();
  m->set_tablet_id(tablet + std::string(payload, 'x'));
  return req;
}

std::string Frames(const std::vector<tserver::RaftMessageRequestPB>& reqs) {
  std::string out;
  for (const auto& r : reqs) AppendFrame(r, &out);
  return out;
}

std::string TabletOf(absl::string_view body) {
  tserver::RaftMessageRequestPB req;
  EXPECT_TRUE(req.ParseFromArray(body.data(), static_cast<int>(body.size())));
  return req.messages_size() > 0 ? req.messages(0).tablet_id() : "";
}

TEST_F(FrameReaderTest, FramesSentTogetherComeOutOneByOneAndSayMoreIsWaiting) {
  Send(std::string(kMagic, sizeof(kMagic)) + Frames({Message("a", 0), Message("b", 0), Message("c", 0)}));
  FrameReader reader(reader_fd());
  char magic[sizeof(kMagic)];
  ASSERT_TRUE(reader.ReadExact(magic, sizeof(magic)));
  EXPECT_EQ(std::string(magic, sizeof(magic)), std::string(kMagic, sizeof(kMagic)));
  absl::string_view body;
  for (const char* want : {"a", "b"}) {
    ASSERT_TRUE(reader.Next(&body));
    EXPECT_EQ(TabletOf(body), want);
    EXPECT_TRUE(reader.MoreWaiting());  // the next frame is buffered
  }
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "c");
  EXPECT_FALSE(reader.MoreWaiting());  // nothing buffered, nothing in the socket
  Send(Frames({Message("d", 0)}));
  EXPECT_TRUE(reader.MoreWaiting());  // asked the socket
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "d");
}

TEST_F(FrameReaderTest, AFrameSentOneByteAtATimeIsWhole) {
  const std::string bytes = Frames({Message("slow", 100), Message("next", 0)});
  std::thread writer([&] {
    for (char c : bytes) {
      Send(std::string(1, c));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  FrameReader reader(reader_fd());
  absl::string_view body;
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "slow" + std::string(100, 'x'));
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "next");
  writer.join();
}

TEST_F(FrameReaderTest, AFrameLargerThanTheBufferAndTheFramesAroundIt) {
  // 1 MiB against a 64 KiB read buffer, between two small frames.
  const std::string bytes = Frames({Message("before", 0), Message("big", 1 << 20), Message("after", 0)});
  std::thread writer([&] { Send(bytes); });
  FrameReader reader(reader_fd());
  absl::string_view body;
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "before");
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body).size(), 3u + (1 << 20));
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "after");
  writer.join();
}

TEST_F(FrameReaderTest, AStreamCutInsideAFrameEndsWithoutAFrame) {
  const std::string bytes = Frames({Message("whole", 0), Message("cut", 50)});
  Send(bytes.substr(0, bytes.size() - 10));
  CloseWriter();
  FrameReader reader(reader_fd());
  absl::string_view body;
  ASSERT_TRUE(reader.Next(&body));
  EXPECT_EQ(TabletOf(body), "whole");
  EXPECT_FALSE(reader.Next(&body));
}

TEST_F(FrameReaderTest, ALengthAboveTheLimitEndsTheStream) {
  std::string header(kFrameLengthBytes, '\0');
  EncodeFrameLength(kMaxFrameBytes + 1, header.data());
  Send(header + "whatever follows");
  FrameReader reader(reader_fd());
  absl::string_view body;
  EXPECT_FALSE(reader.Next(&body));
}

TEST_F(FrameReaderTest, AnEmptyStreamHasNoMagic) {
  CloseWriter();
  FrameReader reader(reader_fd());
  char magic[sizeof(kMagic)];
  EXPECT_FALSE(reader.ReadExact(magic, sizeof(magic)));
}

}  // namespace
}  // namespace kmend::raft_transport::tcp
