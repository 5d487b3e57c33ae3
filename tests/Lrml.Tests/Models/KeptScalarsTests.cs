using Lrml.Models;
using TorchSharp;
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
}
