using Lrml.Models;

namespace Lrml.Fast;

/// <summary>The engine room's one registration point with the paper library.</summary>
public static class FastEngines
{
    /// <summary>
    /// Adds LRML's "fused" CPU engine to <see cref="ModelRegistry"/> (idempotent). It starts from the same initial
    /// weights as the TorchSharp model for a seed (<see cref="LrmlParameters.Initialize"/>) and computes the same loss
    /// and gradients (parity tests), several times faster on a CPU.
    /// </summary>
    public static void Register() =>
        ModelRegistry.RegisterEngine("lrml", "fused", c =>
        {
            var cfg = ConfigBinder.Apply(new LrmlConfig(), c.Settings);
            cfg.Validate();
            var init = LrmlParameters.Initialize(cfg, c.NumUsers, c.NumItems, c.Seed);
            return new LrmlFused(cfg, init, new FusedOptions { Threads = c.Threads }, c.Train, c.Seed);
        });
}
