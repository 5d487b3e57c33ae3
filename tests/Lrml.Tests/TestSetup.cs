using System.Runtime.CompilerServices;

namespace Lrml.Tests;

/// <summary>What every test process needs before its first test, as the CLI and Notebook.Setup do it.</summary>
internal static class TestSetup
{
    /// <summary>Registers the fused engines (Lrml.Fast): LRML's, and the one of BPR-MF, CML and GMF; their default on a CPU.</summary>
    [ModuleInitializer]
    internal static void RegisterEngines() => Lrml.Fast.FastEngines.Register();
}
