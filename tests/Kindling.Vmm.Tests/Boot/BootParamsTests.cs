using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kindling.Vmm.Boot;

namespace Kindling.Vmm.Tests.Boot;

public sealed class BootParamsTests
{
    private const string Header = "/usr/include/x86_64-linux-gnu/asm/bootparam.h";

    /// <summary>Offsets inside boot_params of the fields we use, as bootparam.h documents them.</summary>
    public static TheoryData<string, int> HeaderOffsets => new()
    {
        { "setup_sects", 0x1f1 }, { "syssize", 0x1f4 }, { "boot_flag", 0x1fe }, { "header", 0x202 },
        { "version", 0x206 }, { "type_of_loader", 0x210 }, { "loadflags", 0x211 }, { "code32_start", 0x214 },
        { "ramdisk_image", 0x218 }, { "ramdisk_size", 0x21c }, { "heap_end_ptr", 0x224 },
        { "cmd_line_ptr", 0x228 }, { "initrd_addr_max", 0x22c }, { "kernel_alignment", 0x230 },
        { "relocatable_kernel", 0x234 }, { "xloadflags", 0x236 }, { "cmdline_size", 0x238 },
        { "payload_offset", 0x248 }, { "payload_length", 0x24c }, { "setup_data", 0x250 },
        { "pref_address", 0x258 }, { "init_size", 0x260 }, { "handover_offset", 0x264 },
        { "kernel_info_offset", 0x268 },
    };

    [Fact]
    public void Sizes_MatchBootparamH()
    {
        Assert.Equal(4096, Unsafe.SizeOf<BootParams>());
        Assert.Equal(0x26c - 0x1f1, Unsafe.SizeOf<SetupHeader>());
        Assert.Equal(20, Unsafe.SizeOf<BootE820Entry>());
    }

    [Theory]
    [MemberData(nameof(HeaderOffsets))]
    public void SetupHeaderField_Offset_MatchesBootparamH(string cName, int expected)
    {
        int inHeader = (int)Marshal.OffsetOf<SetupHeader>(ToPascal(cName));
        Assert.Equal(expected, SetupHeader.Offset + inHeader);
    }

    [Fact]
    public void BootParamsFields_Offsets_MatchBootparamH()
    {
        Assert.Equal(0x0c0, Offset(nameof(BootParams.ExtRamdiskImage)));
        Assert.Equal(0x0c8, Offset(nameof(BootParams.ExtCmdLinePtr)));
        Assert.Equal(0x1e8, Offset(nameof(BootParams.E820Entries)));
        Assert.Equal(0x1ef, Offset(nameof(BootParams.Sentinel)));
        Assert.Equal(0x1f1, Offset(nameof(BootParams.Hdr)));
        Assert.Equal(0x290, Offset(nameof(BootParams.EddMbrSigBuffer)));
        Assert.Equal(0x2d0, Offset(nameof(BootParams.E820Table)));
        Assert.Equal(0xcd0, Offset(nameof(BootParams.Pad8)));
        Assert.Equal(0xd00, Offset(nameof(BootParams.Eddbuf)));
        Assert.Equal(0xeec, Offset(nameof(BootParams.Pad9)));
    }

    /// <summary>Compiles a C program against the real header and compares every offset with ours.</summary>
    [Fact]
    public async Task Offsets_AgreeWithCompiledKernelHeader()
    {
        if (!File.Exists(Header) || !File.Exists("/usr/bin/gcc"))
        {
            Assert.Skip($"needs gcc and {Header} (apt-get install gcc linux-libc-dev)");
        }

        using var temp = new TempFiles();
        var fields = HeaderOffsets.Select(row => row.Data.Item1).ToList();
        string program =
            "#include <stdio.h>\n#include <stddef.h>\n#include <asm/bootparam.h>\nint main(void){\n" +
            "printf(\"sizeof_boot_params %zu\\n\", sizeof(struct boot_params));\n" +
            "printf(\"sizeof_setup_header %zu\\n\", sizeof(struct setup_header));\n" +
            "printf(\"e820_table %zu\\n\", offsetof(struct boot_params, e820_table));\n" +
            "printf(\"e820_entries %zu\\n\", offsetof(struct boot_params, e820_entries));\n" +
            "printf(\"ext_ramdisk_image %zu\\n\", offsetof(struct boot_params, ext_ramdisk_image));\n" +
            "printf(\"ext_cmd_line_ptr %zu\\n\", offsetof(struct boot_params, ext_cmd_line_ptr));\n" +
            string.Concat(fields.Select(f => $"printf(\"hdr.{f} %zu\\n\", offsetof(struct boot_params, hdr.{f}));\n")) +
            "return 0;}\n";
        string source = temp.Write("offsets.c", System.Text.Encoding.ASCII.GetBytes(program));
        string exe = Path.Combine(temp.Root, "offsets");
        await RunAsync("gcc", ["-o", exe, source]);
        Dictionary<string, int> c = (await RunAsync(exe, []))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => int.Parse(p[1]));

        Assert.Equal(c["sizeof_boot_params"], Unsafe.SizeOf<BootParams>());
        Assert.Equal(c["sizeof_setup_header"], Unsafe.SizeOf<SetupHeader>());
        Assert.Equal(c["e820_table"], Offset(nameof(BootParams.E820Table)));
        Assert.Equal(c["e820_entries"], Offset(nameof(BootParams.E820Entries)));
        Assert.Equal(c["ext_ramdisk_image"], Offset(nameof(BootParams.ExtRamdiskImage)));
        Assert.Equal(c["ext_cmd_line_ptr"], Offset(nameof(BootParams.ExtCmdLinePtr)));
        foreach (string f in fields)
        {
            Assert.Equal((f, c["hdr." + f]), (f, SetupHeader.Offset + (int)Marshal.OffsetOf<SetupHeader>(ToPascal(f))));
        }
    }

    private static int Offset(string field) => (int)Marshal.OffsetOf<BootParams>(field);

    private static string ToPascal(string cName) => cName switch
    {
        "loadflags" => nameof(SetupHeader.LoadFlags),
        "xloadflags" => nameof(SetupHeader.XLoadFlags),
        "cmd_line_ptr" => nameof(SetupHeader.CmdLinePtr),
        _ => string.Concat(cName.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..])),
    };

    private static async Task<string> RunAsync(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using Process p = Process.Start(info)!;
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<string> stderr = p.StandardError.ReadToEndAsync(ct);
        string stdout = await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        Assert.True(p.ExitCode == 0, $"{file} failed: {await stderr}");
        return stdout;
    }
}
