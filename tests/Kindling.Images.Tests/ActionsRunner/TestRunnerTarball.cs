using System.Security.Cryptography;
using Kindling.Testing.FakeForge;

namespace Kindling.Images.Tests.ActionsRunner;

/// <summary>
/// A small .tar.gz laid out like the official actions-runner-linux-x64 release (<see cref="FakeActionsRunner"/>:
/// entries written <c>./run.sh</c>, <c>./bin/Runner.Listener</c> …) with an incompressible filler so that a
/// download has a middle to cut.
/// </summary>
internal static class TestRunnerTarball
{
    public static byte[] Build(bool runner = true, int fillerBytes = 256 * 1024) => FakeActionsRunner.Tarball(runner, fillerBytes);

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
