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
/// </para>
/// <para>
/// MKL_CBWR=AUTO, MKL_DYNAMIC=FALSE, OMP_DYNAMIC=FALSE: run-to-run reproducibility of LibTorch's MKL kernels. Without
/// them MKL may take different code paths for differently aligned buffers (and change its thread count), so the same
/// seed gave NeuMF runs that differed in the fourth decimal when other work had run earlier in the process (the main
/// table's duration estimate trains for a time budget, which changes the allocation history); with them, repeated
/// in-process runs were identical.
/// </para>
/// <para>A value the user already set is respected. .NET's Environment.SetEnvironmentVariable does not reach
/// native getenv on Unix, so libc's setenv is called directly.</para>
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
            foreach (var (name, value) in Settings)
            {
                if (Environment.GetEnvironmentVariable(name) is not null) continue;
                if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) setenv(name, value, 0);
                else Environment.SetEnvironmentVariable(name, value);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc setenv (unusual platform): keep the runtime default.
        }
    }

    /// <summary>The variables set (when the user has not set them) before any native library loads.</summary>
    internal static readonly (string Name, string Value)[] Settings =
    [
        ("OMP_WAIT_POLICY", "PASSIVE"),
        ("MKL_CBWR", "AUTO"),
        ("MKL_DYNAMIC", "FALSE"),
        ("OMP_DYNAMIC", "FALSE"),
    ];

    [DllImport("libc", CharSet = CharSet.Ansi, SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
