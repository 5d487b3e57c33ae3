using Lrml.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>The kept-Scalar ops of the torch models give exactly the values (and gradients) of the plain forms they
/// replace, so the crash fix changes no number.</summary>
[Collection("Torch models")]
public class KeptScalarsTests
{
    private static Tensor Values(ScalarType dtype)
    {
        // spans softplus's linear branch (x > 20) and its log1p(eˣ) branch, both signs, and exact zeros
        var rng = new Lrml.Util.Rng(7, "tests/kept-scalars");
        var x = new double[64];
        for (int j = 0; j < x.Length; j++) x[j] = j % 9 == 0 ? 0 : rng.NextGaussian() * 12;
        return torch.tensor(x).to(dtype);
    }

    private static void Same(Tensor expected, Tensor actual) => Assert.Equal(TorchSupport.ToDoubles(expected), TorchSupport.ToDoubles(actual));

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void PlusSquaredAndSoftplusAreBitIdenticalToThePlainForms(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var a = Values(dtype);
        var b = a.flip(0) * 0.37;
        Assert.True(TorchSupport.Scalar(a.abs().max()) > 20);
        Assert.True(KeptScalars.SoftplusIsKept, "TorchSharp's Tensor.softplus1(Scalar, Scalar) is gone: Softplus falls back to temporaries.");
        Same(a + b, a.Plus(b));
        using (var half = 0.5.ToScalar()) Same(a + 0.5, a.Plus(half));
        Same(a.square(), a.Squared());
        Same(nn.functional.softplus(a), a.Softplus());
        Same(nn.functional.softplus(a * 3), (a * 3).Softplus());

        // gradients of a loss built both ways
        var x1 = a.detach().requires_grad_(true);
        var x2 = a.detach().requires_grad_(true);
        (nn.functional.softplus(x1).sum() + x1.square().sum()).backward();
        x2.Softplus().sum().Plus(x2.Squared().sum()).backward();
        Same(x1.grad!, x2.grad!);
    }

    private static Parameter Param(double[] values, long[] shape) => new(torch.tensor(values, shape).to(ScalarType.Float32), requires_grad: true);

    private static (string, Parameter)[] Parameters()
    {
        var rng = new Lrml.Util.Rng(11, "tests/kept-adam");
        double[] Draw(int n) => Enumerable.Range(0, n).Select(_ => rng.NextGaussian()).ToArray();
        return [("A", Param(Draw(12), [4, 3])), ("B", Param(Draw(5), [5])), ("C", Param(Draw(4), [2, 2]))];
    }

    /// <summary>A loss of A and B only: C never gets a gradient (TorchSharp's Adam skips it, its step count stays 0).</summary>
    private static void Backward((string, Parameter)[] ps)
    {
        foreach (var (_, p) in ps) p.grad?.zero_();
        ((ps[0].Item2.sin() * ps[0].Item2).sum() + (ps[1].Item2 * ps[1].Item2 * ps[1].Item2).sum()).backward();
    }

    private static void SameParameters((string, Parameter)[] expected, (string, Parameter)[] actual)
    {
        for (int k = 0; k < expected.Length; k++) Same(expected[k].Item2, actual[k].Item2);
    }

    [Fact]
    public void DenseAdamStepIsBitIdenticalToTorchSharpsAdamAndReadsItsSavedState()
    {
        using var scope = NewDisposeScope();
        var lrOf = new Dictionary<string, double> { ["B"] = 0.05 };   // two parameter groups, as LRML's memory_learning_rate
        var mine = Parameters();
        var theirs = Parameters();
        var initialC = TorchSupport.ToDoubles(mine[2].Item2);
        using var opt = new ModelOptimizer(OptimizerKind.Adam, 0.01, mine, lrOf);
        using var reference = new Adam(
            [new Adam.ParamGroup([theirs[0].Item2, theirs[2].Item2], new Adam.Options { LearningRate = 0.01 }),
             new Adam.ParamGroup([theirs[1].Item2], new Adam.Options { LearningRate = 0.05 })],
            lr: 0.01, beta1: ModelOptimizer.Beta1, beta2: ModelOptimizer.Beta2, eps: ModelOptimizer.AdamEpsilon);
        for (int step = 0; step < 5; step++)
        {
            Backward(mine); opt.StepDense(0, 0);
            Backward(theirs); reference.step();
            SameParameters(theirs, mine);
        }
        Assert.NotEqual(initialC, TorchSupport.ToDoubles(mine[0].Item2));
        Assert.Equal(initialC, TorchSupport.ToDoubles(mine[2].Item2));

        // TorchSharp's saved Adam state (the format of existing checkpoints) loads and continues bit-identically
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) { w.Write((int)OptimizerKind.Adam); reference.save_state_dict(w); }
        var resumed = Parameters();
        using (no_grad()) for (int k = 0; k < resumed.Length; k++) resumed[k].Item2.copy_(theirs[k].Item2);
        using var opt2 = new ModelOptimizer(OptimizerKind.Adam, 0.01, resumed, lrOf);
        ms.Position = 0;
        using (var r = new BinaryReader(ms)) opt2.Load(r);
        for (int step = 0; step < 3; step++)
        {
            Backward(resumed); opt2.StepDense(0, 0);
            Backward(theirs); reference.step();
            SameParameters(theirs, resumed);
        }
    }
}
