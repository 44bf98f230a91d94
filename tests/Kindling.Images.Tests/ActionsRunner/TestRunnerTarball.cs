using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Kindling.Images.Tests.ActionsRunner;

/// <summary>
/// A small .tar.gz laid out like the official actions-runner-linux-x64 release (entries written <c>./run.sh</c>,
/// <c>./bin/Runner.Listener</c> …) with an incompressible filler so that a download has a middle to cut.
/// </summary>
internal static class TestRunnerTarball
{
    private const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public static byte[] Build(bool runner = true, int fillerBytes = 256 * 1024)
    {
        using MemoryStream output = new();
        using (GZipStream gz = new(output, CompressionLevel.Fastest, leaveOpen: true))
        using (TarWriter tar = new(gz, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./") { Mode = Executable });
            if (runner)
            {
                Add(tar, "./run.sh", "#!/bin/bash\necho runner\n");
            }

            Add(tar, "./config.sh", "#!/bin/bash\n");
            Add(tar, "./env.sh", "#!/bin/bash\n");
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./bin/") { Mode = Executable });
            if (runner)
            {
                Add(tar, "./bin/Runner.Listener", "\x7fELF");
            }

            byte[] filler = RandomNumberGenerator.GetBytes(fillerBytes);
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./bin/Runner.Worker.dll") { DataStream = new MemoryStream(filler) });
        }

        return output.ToArray();
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static void Add(TarWriter tar, string name, string text) =>
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = Executable,
            DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)),
        });
}
