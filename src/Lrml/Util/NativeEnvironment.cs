using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lrml.Util;

/// <summary>
/// Process-level settings for the native compute libraries, applied when the kit's assembly loads and
/// therefore before LibTorch (and its OpenMP runtime) initialises.
/// <para>
/// OMP_WAIT_POLICY=PASSIVE: LibTorch's OpenMP workers otherwise spin-wait between parallel regions. The
/// kit alternates small torch ops with its own managed work (sampling, evaluation, the fused kernels), so
/// spinning workers steal the cores that work needs; on a 2-core machine this was measured to make a
/// TorchSharp LRML epoch 10–20× slower (2.6 s vs 0.19 s per epoch on the synthetic default, same results).
/// A value the user already set is respected. .NET's Environment.SetEnvironmentVariable does not reach
/// native getenv on Unix, so libc's setenv is called directly.
/// </para>
/// </summary>
internal static class NativeEnvironment
{
#pragma warning disable CA2255 // a library module initializer is intended here: it must run before any torch call
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        try
        {
            if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            {
                if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
            }
            else if (OperatingSystem.IsWindows() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            {
                Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc setenv (unusual platform): keep the runtime default.
        }
    }

    [DllImport("libc", CharSet = CharSet.Ansi, SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
