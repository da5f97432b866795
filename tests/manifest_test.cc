// The manifest: round trip, every way the listed files can disagree with it,
// a damaged manifest, and faults and crashes during a commit.
#include "io/manifest.h"

#include <gtest/gtest.h>

#include "io/fault_env.h"
#include "io_test_util.h"

namespace vx {
namespace {

class ManifestTest : public testing::EnvTest {
 protected:
  // A file of generation 1, the one the checks below are about.
  std::string File(const std::string& name) const { return GenerationDir(dir_.path(), 1) + "/" + name; }
  void Put(Env* env, const std::string& path, const std::string& content) {
    auto f = env->OpenFile(path, OpenOptions{.write = true, .create = true, .truncate = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(0, content.data(), content.size()).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  // Writes generation `generation`'s files and returns its manifest, uncommitted.
  Manifest Stage(Env* env, uint64_t generation) {
    const std::string gen_dir = GenerationDir(dir_.path(), generation);
    EXPECT_TRUE(env->CreateDir(gen_dir).ok());
    Put(env, gen_dir + "/graph", std::string(100000, 'g'));
    Put(env, gen_dir + "/vectors", "vvvv");
    EXPECT_TRUE(env->SyncDir(gen_dir).ok());
    Manifest m;
    m.generation = generation;
    m.params = {{"type", "hnsw"}, {"m", "16"}};
    for (const char* name : {"graph", "vectors"}) {
      auto d = DescribeFile(env, gen_dir, name);
      EXPECT_TRUE(d.ok()) << d.status().ToString();
      m.files.push_back(*d);
    }
    return m;
  }
  void Commit(Env* env, uint64_t generation) {
    ASSERT_TRUE(WriteManifest(env, dir_.path(), Stage(env, generation)).ok());
  }
  Status Check(bool full = false) {
    auto m = ReadManifest(env_.get(), dir_.path());
    if (!m.ok()) return m.status();
    return CheckFiles(env_.get(), dir_.path(), *m, full);
  }
};

TEST_P(ManifestTest, RoundTrip) {
  Commit(env_.get(), 7);
  auto m = ReadManifest(env_.get(), dir_.path());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->generation, 7u);
  EXPECT_EQ(m->params.at("m"), "16");
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].name, "graph");
  EXPECT_EQ(m->files[0].size, 100000u);
  EXPECT_TRUE(Check(true).ok());
  EXPECT_FALSE(env_->FileExists(Path("MANIFEST.tmp")));
}

// Segments round trip in order with their files, and the checks cover the
// segments' files as they do the base's.
TEST_P(ManifestTest, SegmentsRoundTripAndTheirFilesAreChecked) {
  Manifest m = Stage(env_.get(), 3);
  const std::string gen_dir = GenerationDir(dir_.path(), 3);
  Put(env_.get(), gen_dir + "/delta-4.vectors", std::string(5000, 'd'));
  Put(env_.get(), gen_dir + "/tombstones-9", "tttt");
  auto d = DescribeFile(env_.get(), gen_dir, "delta-4.vectors");
  auto t = DescribeFile(env_.get(), gen_dir, "tombstones-9");
  ASSERT_TRUE(d.ok() && t.ok());
  m.segments = {ManifestSegment{4, "delta", {*d}}, ManifestSegment{9, "tombstones", {*t}}};
  ASSERT_TRUE(WriteManifest(env_.get(), dir_.path(), m).ok());
  auto back = ReadManifest(env_.get(), dir_.path());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->segments, m.segments);
  EXPECT_EQ(back->files, m.files);
  EXPECT_TRUE(CheckFiles(env_.get(), dir_.path(), *back, true).ok());

  Put(env_.get(), gen_dir + "/tombstones-9", "tttT");
  Status s = CheckFiles(env_.get(), dir_.path(), *back, true);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("tombstones-9: content checksum mismatch"), std::string::npos) << s.ToString();
  ASSERT_TRUE(env_->DeleteFile(gen_dir + "/delta-4.vectors").ok());
  s = CheckFiles(env_.get(), dir_.path(), *back, false);
  EXPECT_NE(s.message().find("delta-4.vectors: listed in the manifest but missing"), std::string::npos) << s.ToString();

  // Segment ids must ascend: a manifest that says otherwise is corrupt.
  std::swap(m.segments[0], m.segments[1]);
  ASSERT_TRUE(WriteManifest(env_.get(), dir_.path(), m).ok());
  auto bad = ReadManifest(env_.get(), dir_.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("segment 4 follows segment 9"), std::string::npos) << bad.status().ToString();
}

TEST_P(ManifestTest, NoManifestIsNotAnIndex) {
  auto m = ReadManifest(env_.get(), dir_.path());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find("not a vx index"), std::string::npos);
}

TEST_P(ManifestTest, MissingTruncatedGrownOrMismatchedFilesAreNamed) {
  Commit(env_.get(), 1);
  ASSERT_TRUE(env_->DeleteFile(File("vectors")).ok());
  Status s = Check();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("vectors: listed in the manifest but missing"), std::string::npos) << s.message();

  Put(env_.get(), File("vectors"), "vvvv");
  Put(env_.get(), File("graph"), std::string(99999, 'g'));
  s = Check();
  EXPECT_NE(s.message().find("graph: truncated: 99999 bytes, the manifest says 100000"), std::string::npos)
      << s.message();

  Put(env_.get(), File("graph"), std::string(100001, 'g'));
  s = Check();
  EXPECT_NE(s.message().find("graph: 100001 bytes, the manifest says 100000"), std::string::npos) << s.message();

  Put(env_.get(), File("graph"), "G" + std::string(99999, 'g'));
  s = Check();
  EXPECT_NE(s.message().find("graph: head checksum mismatch"), std::string::npos) << s.message();

  // A change past the head is caught by the full check only.
  Put(env_.get(), File("graph"), std::string(99999, 'g') + "G");
  EXPECT_TRUE(Check(false).ok());
  s = Check(true);
  EXPECT_NE(s.message().find("graph: content checksum mismatch"), std::string::npos) << s.message();
}

TEST_P(ManifestTest, DamagedManifestIsCorruption) {
  Commit(env_.get(), 1);
  auto f = env_->OpenFile(Path("MANIFEST"), OpenOptions{.write = true});
  const uint64_t size = *(*f)->Size();
  char c;
  size_t got;
  ASSERT_TRUE((*f)->Read(size - 5, 1, &c, &got).ok());
  c ^= 1;
  ASSERT_TRUE((*f)->Write(size - 5, &c, 1).ok());
  Status s = Check();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("MANIFEST: checksum mismatch"), std::string::npos) << s.message();

  ASSERT_TRUE((*f)->Write(0, "XXXX", 4).ok());
  EXPECT_NE(Check().message().find("bad magic"), std::string::npos);
  ASSERT_TRUE((*f)->Truncate(10).ok());
  EXPECT_NE(Check().message().find("truncated header"), std::string::npos);
}

// The page nonce round-trips, binds each file differently, and a manifest
// without one (written before pages were bound) reads as unbound.
TEST_P(ManifestTest, PageNonceRoundTripsAndBindsEachFile) {
  Manifest m = Stage(env_.get(), 1);
  EXPECT_EQ(m.PageBindingOf("graph"), 0u);  // no nonce: unbound pages
  ASSERT_TRUE(WriteManifest(env_.get(), dir_.path(), m).ok());
  EXPECT_EQ(ReadManifest(env_.get(), dir_.path())->page_nonce, 0u);
  m.page_nonce = 0xABCDEF0123456789;
  ASSERT_TRUE(WriteManifest(env_.get(), dir_.path(), m).ok());
  auto back = ReadManifest(env_.get(), dir_.path());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->page_nonce, m.page_nonce);
  EXPECT_NE(back->PageBindingOf("graph"), 0u);
  EXPECT_NE(back->PageBindingOf("graph"), back->PageBindingOf("vectors"));
  m.page_nonce += 1;
  EXPECT_NE(m.PageBindingOf("graph"), back->PageBindingOf("graph"));
}

// Fields of the wrong kind, in a manifest whose checksum is right, are
// Corruption naming the field: a page nonce that is not 16 hex digits, and
// numbers that are not unsigned integers (converting them is undefined).
TEST_P(ManifestTest, MalformedFieldsAreCorruption) {
  const std::string tail = R"(, "params": {}, "files": [], "segments": []})";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"generation": 1, "page_nonce": "12zz")", "page_nonce is not 16 hex digits"},
      {R"({"generation": 1.5e28)", "'generation' is not an unsigned integer"},
      {R"({"generation": -3)", "'generation' is not an unsigned integer"},
  };
  for (const auto& [head, says] : cases) {
    Put(env_.get(), Path("MANIFEST"), ManifestFileBytes(head + tail));
    auto m = ReadManifest(env_.get(), dir_.path());
    ASSERT_FALSE(m.ok()) << head;
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
    EXPECT_NE(m.status().message().find(says), std::string::npos) << m.status().ToString();
  }
}

TEST_P(ManifestTest, OtherFormatVersionsAreRefusedSayingWhatToDo) {
  Commit(env_.get(), 1);
  auto f = env_->OpenFile(Path("MANIFEST"), OpenOptions{.write = true});
  ASSERT_TRUE(f.ok());
  const uint16_t older = kManifestVersion - 1, newer = kManifestVersion + 1;
  ASSERT_TRUE((*f)->Write(4, &older, 2).ok());
  Status s = Check();
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_NE(s.message().find("written by an older vx; rebuild the index"), std::string::npos) << s.message();
  ASSERT_TRUE((*f)->Write(4, &newer, 2).ok());
  s = Check();
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_NE(s.message().find("this build reads version " + std::to_string(kManifestVersion)), std::string::npos)
      << s.message();
}

TEST_P(ManifestTest, EnospcDuringCommitLeavesTheOldManifest) {
  Commit(env_.get(), 1);
  FaultEnv fault(env_.get());
  fault.FailWritesAfter("MANIFEST", 0);
  const Status s = WriteManifest(&fault, dir_.path(), Stage(&fault, 2));
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  auto m = ReadManifest(env_.get(), dir_.path());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->generation, 1u);
}

TEST_P(ManifestTest, TornWriteDuringCommitLeavesTheOldManifest) {
  Commit(env_.get(), 1);
  FaultEnv fault(env_.get());
  fault.TearNextWrite("MANIFEST", 20);
  EXPECT_FALSE(WriteManifest(&fault, dir_.path(), Stage(&fault, 2)).ok());
  auto m = ReadManifest(env_.get(), dir_.path());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->generation, 1u);
}

TEST_P(ManifestTest, CrashAtEachStepOfACommitLeavesOldOrNew) {
  FaultEnv fault(env_.get());
  Commit(&fault, 1);
  ASSERT_TRUE(fault.SimulateCrash().ok());
  ASSERT_EQ(ReadManifest(env_.get(), dir_.path())->generation, 1u);  // committed = durable

  // Crash after the rename, before the directory fsync: the old manifest.
  class NoDirSync : public FaultEnv {
   public:
    using FaultEnv::FaultEnv;
    Status SyncDir(const std::string& dir) override {
      if (cut) return Status::IOError("power cut before directory fsync");
      return FaultEnv::SyncDir(dir);
    }
    bool cut = false;
  } cut(env_.get());
  Commit(&cut, 1);  // a durable generation 1 as seen by `cut`
  const Manifest next = Stage(&cut, 2);
  cut.cut = true;
  EXPECT_FALSE(WriteManifest(&cut, dir_.path(), next).ok());
  EXPECT_EQ(ReadManifest(env_.get(), dir_.path())->generation, 2u);  // visible before the crash...
  ASSERT_TRUE(cut.SimulateCrash().ok());
  auto m = ReadManifest(env_.get(), dir_.path());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->generation, 1u);  // ...but not durable
}

TEST_P(ManifestTest, ReadErrorIsIOError) {
  Commit(env_.get(), 1);
  FaultEnv fault(env_.get());
  fault.FailReads("MANIFEST");
  auto m = ReadManifest(&fault, dir_.path());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kIOError);
}

VX_INSTANTIATE_ENV_TEST(ManifestTest);

}  // namespace
}  // namespace vx
