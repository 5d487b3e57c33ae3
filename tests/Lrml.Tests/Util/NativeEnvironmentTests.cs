using System.Runtime.InteropServices;
using Lrml.Util;

namespace Lrml.Tests.Util;

public class NativeEnvironmentTests
{
    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);

    /// <summary>What LibTorch and MKL will read: the native environment (setenv), not .NET's managed copy. Each variable
    /// is either the kit's value or one the user set before starting the process.</summary>
    [Fact]
    public void NativeLibrariesSeeTheReproducibilityAndThreadingSettings()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("native getenv check is Linux-only");
        _ = new Rng(1, "load the kit assembly");                     // runs the module initializer
        foreach (var (name, value) in NativeEnvironment.Settings)
        {
            string? native = Marshal.PtrToStringAnsi(getenv(name));
            string? user = Environment.GetEnvironmentVariable(name);
            Assert.Equal(user ?? value, native);
        }
        Assert.Contains(NativeEnvironment.Settings, s => s.Name == "MKL_CBWR");
    }
}
