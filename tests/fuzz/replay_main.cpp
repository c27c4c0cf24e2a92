// The main of the replay executables (netlab_fuzz_replay_<name>): a fuzz
// harness's LLVMFuzzerTestOneInput run over saved inputs, without libFuzzer, so
// every preset (g++, with or without ASan) replays the regression inputs and
// the generated seeds. Each argument is a file or a folder of files (not
// recursive); an input that crashes, trips a sanitizer or breaks an invariant
// ends the process, and the line printed before it names the file.
//
//   netlab_fuzz_replay_pcap tests/fuzz/regressions/pcap build/default/tests/fuzz/seeds/pcap
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

// The files an argument names, in a stable order.
std::vector<fs::path> inputs_of(const fs::path& argument) {
  std::vector<fs::path> files;
  if (fs::is_directory(argument)) {
    for (const auto& entry : fs::directory_iterator(argument))
      if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(argument)) {
    files.push_back(argument);
  } else {
    throw std::runtime_error(argument.string() + ": no such file or folder");
  }
  return files;
}

void replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open");
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  // Said before the call: if the input crashes, this is the last line printed.
  std::cout << "replay " << file.string() << " (" << bytes.size() << " bytes)" << std::endl;
  // A copy of exactly the input's size, so ASan sees a read one byte past it.
  std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
  (void)LLVMFuzzerTestOneInput(exact.data(), exact.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " FILE|FOLDER...  (replays each input through the fuzz harness)\n";
    return 2;
  }
  try {
    std::size_t replayed = 0;
    for (int i = 1; i < argc; ++i)
      for (const auto& file : inputs_of(argv[i])) {
        replay(file);
        ++replayed;
      }
    // No input at all means a wrong path or a missing seed step, not a pass.
    if (replayed == 0) {
      std::cerr << "no inputs found in the folders given\n";
      return 1;
    }
    std::cout << replayed << " inputs replayed, none failed\n";
  } catch (const std::exception& e) {
    std::cerr << "replay: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
