using System.Runtime.CompilerServices;

namespace Lrml.Tests;

/// <summary>What every test process needs before its first test, as the CLI and Notebook.Setup do it.</summary>
internal static class TestSetup
{
    /// <summary>Registers LRML's fused engine (Lrml.Fast), the default LRML engine on a CPU.</summary>
    [ModuleInitializer]
    internal static void RegisterEngines() => Lrml.Fast.FastEngines.Register();
}
