extension PropensityModel {
    /// One interaction layer (docs/model.md: the interaction layer), for every particle i
    /// (features h `[N][dim]`, `Irreps` layout):
    ///
    ///     s   = SelfLinear(h_i)                                   [N][zdim]   ((1+lmax)C scalars, C of each l ≥ 1)
    ///     w_e = RadialMLP(Bessel(|r_ij|))                         [R][paths·C]  (one row per neighbor pair)
    ///     m_i = (1/√avg_neighbors) Σ_j TP_uvu(h_j, Y(r̂_ij), w_e) [N][dim]
    ///     z   = PostLinear(m_i) + s                               [N][zdim]
    ///     h  ← Gate(z)        (+ h with the residual option)
    ///
    /// **Scalar output.** The last layer may compute only what the decoder reads: its C scalars
    /// act(z_0), z_0 = PostLinear(m)_0 + SelfLinear(h)_0. The linears act per l, so these depend on
    /// the messages' l = 0 part only, on the paths l ⊗ l → 0 (4 of 34 paths, 16 of 611 couplings,
    /// 32 of 272 radial outputs with the defaults). With `scalarsOnly`, the rest of the messages is
    /// not computed (left zero; the l ≥ 1 features are then not the network's), and its radial
    /// weights get the zero gradient they get from the full pass.
    ///
    /// Parameters come from the flat buffer (`ParameterLayout`); activations go to the model's tape.
    struct InteractionLayer {
        let selfLinear: EquivariantLinear
        let radial: FullyConnectedNet
        let tensorProduct: TensorProductUVU
        let postLinear: EquivariantLinear
        let gate: Gate
        /// h ← h + Gate(z) (the residual option, from layer 1 on).
        let residual: Bool
        /// Offsets in the flat parameter buffer.
        let selfOffset: Int, radialOffset: Int, postOffset: Int
        /// The l ⊗ l → 0 paths, for the scalar output (the last layer's option); nil: not offered.
        let scalarPaths: ScalarPaths?

        /// The tensor product with output l = 0 only (the same path normalization: α = 1/4 for both,
        /// four paths land on l = 0) and the radial MLP with only those paths' output columns.
        struct ScalarPaths {
            let tensorProduct: TensorProductUVU
            let radial: FullyConnectedNet
            /// For each output column of `radial`, its column in the full radial MLP's last weight.
            let columns: [Int]
        }

        /// Layer k of `layout`; `scalarOutput`: offer the scalar output (the last layer).
        init(config: ModelConfig, layout: ParameterLayout, index k: Int, scalarOutput: Bool) {
            let c = config.channels, lmax = config.lmax, lay = layout.layers[k]
            let hidden = Irreps(uniform: c, lmax: lmax)
            let zIrreps = Irreps(channels: [(1 + lmax) * c] + Array(repeating: c, count: lmax))
            gate = Gate(output: hidden)
            precondition(gate.input == zIrreps, "PropensityModel: gate input irreps differ from the linear maps' output")
            let inputLmax = lay.inputOrders.max()!
            let tp = TensorProductUVU(channels: c, inputLmax: inputLmax, shLmax: lmax, outputLmax: lmax)
            precondition(tp.paths.map { [$0.l1, $0.l2, $0.l3] } == lay.paths.map { [$0.l1, $0.l2, $0.l3] },
                         "PropensityModel: tensor-product path order differs from the parameter layout")
            precondition(tp.output == hidden, "PropensityModel: messages must carry C channels of every l")
            selfLinear = EquivariantLinear(input: Irreps(uniform: c, lmax: inputLmax), output: zIrreps)
            radial = FullyConnectedNet(sizes: lay.radialSizes, activation: .silu)
            tensorProduct = tp
            postLinear = EquivariantLinear(input: hidden, output: zIrreps)
            residual = config.residual && k > 0
            selfOffset = lay.selfLinear[0]!.offset
            radialOffset = lay.radialOffset
            postOffset = lay.postLinear[0].offset
            guard scalarOutput else { scalarPaths = nil; return }
            let scalarTP = TensorProductUVU(channels: c, inputLmax: inputLmax, shLmax: lmax, outputLmax: 0)
            let columns = scalarTP.paths.flatMap { path -> [Int] in
                let p = lay.paths.firstIndex { $0 == (path.l1, path.l2, path.l3) }!
                return Array((p * c)..<((p + 1) * c))
            }
            scalarPaths = ScalarPaths(
                tensorProduct: scalarTP,
                radial: FullyConnectedNet(sizes: Array(lay.radialSizes.dropLast()) + [columns.count], activation: .silu),
                columns: columns)
        }

        /// What every layer of one pass shares: the snapshot, its edge geometry (`EdgeGeometry`), the
        /// row blocks of nodes and of pairs, the threads, and the message scale 1/√avg_neighbors.
        struct Pass {
            let input: ModelInput
            let harmonics: [Float], radialBasis: [Float]
            let nodes: RowBlocks, pairs: RowBlocks, threads: Int
            let scale: Float
            var nodeCount: Int { nodes.rows }
        }

        /// The work buffers of the layers, kept between calls.
        struct Buffers {
            /// SelfLinear(h) `[N][zdim]`.
            var selfOutput: [Float] = []
            /// w of the current layer `[R][paths·C]`, one row per neighbor pair (sized by the model
            /// for its widest layer); ∂L/∂w_e `[E][paths·C]` in the tensor-product backward's
            /// sender-grouped order.
            var edgeWeights: [Float] = []
            var gradEdgeWeights: [Float] = []
            /// ∂L/∂z `[N][zdim]`, ∂L/∂m `[N][dim]`.
            var gradGateInput: [Float] = []
            var gradMessages: [Float] = []
            /// Scalar output: the radial weights gathered from the parameters (kept from forward to
            /// backward), their gradient, the messages `[N][C]` and their gradient.
            var scalarRadialWeights: [Float] = []
            var scalarRadialGradient: [Float] = []
            var scalarMessages: [Float] = []
            var gradScalarMessages: [Float] = []
        }

        var featureWidth: Int { tensorProduct.output.dimension }

        // MARK: forward

        /// h_{k+1} (`output` `[N][dim]`) from h_k (`features` `[N][inDim]`); fills the layer's
        /// tape: `radialTape`, `messages` m `[N][dim]`, `gateInput` z `[N][zdim]`. Leaves w in
        /// `work.edgeWeights`.
        func forward(parameters: UnsafePointer<Float>, features h: [Float], pass: Pass, scalarsOnly: Bool,
                     radialTape: inout FullyConnectedNet.Tape, messages: inout [Float], gateInput: inout [Float],
                     output: inout [Float], work: inout Buffers) {
            let (n, dim, zdim, nodes) = (pass.nodeCount, featureWidth, gate.input.dimension, pass.nodes)
            FlatBuffers.fit(&work.selfOutput, n * zdim)
            selfLinear.forward(weights: parameters + selfOffset, input: h, output: &work.selfOutput, blocks: nodes)
            FlatBuffers.fit(&messages, n * dim)
            if let scalar = scalarPaths, scalarsOnly {
                // Only the l = 0 messages; the l ≥ 1 ones stay zero.
                FlatBuffers.fit(&work.scalarRadialWeights, scalar.radial.parameterCount)
                scalar.gatherRadialWeights(parameters + radialOffset, fullColumns: radial.outputSize,
                                           into: &work.scalarRadialWeights)
                scalar.radial.forward(weights: work.scalarRadialWeights, input: pass.radialBasis, output: &work.edgeWeights,
                                      tape: &radialTape, blocks: pass.pairs)
                FlatBuffers.fit(&work.scalarMessages, n * scalar.tensorProduct.output.dimension)
                Self.messages(scalar.tensorProduct, features: h, edgeWeights: work.edgeWeights, pass: pass,
                              output: &work.scalarMessages)
                FlatBuffers.copyRows(work.scalarMessages, width: scalar.tensorProduct.output.dimension, into: &messages,
                                     width: dim, rows: n)
            } else {
                radial.forward(weights: parameters + radialOffset, input: pass.radialBasis, output: &work.edgeWeights,
                               tape: &radialTape, blocks: pass.pairs)
                Self.messages(tensorProduct, features: h, edgeWeights: work.edgeWeights, pass: pass, output: &messages)
            }
            // z = PostLinear(m) + s
            FlatBuffers.fit(&gateInput, n * zdim)
            postLinear.forward(weights: parameters + postOffset, input: messages, output: &gateInput, blocks: nodes)
            FlatBuffers.add(work.selfOutput, into: &gateInput, width: zdim, blocks: nodes)
            FlatBuffers.fit(&output, n * dim)
            gate.forward(input: gateInput, output: &output, blocks: nodes)
            if residual { FlatBuffers.add(h, into: &output, width: dim, blocks: nodes) }
        }

        /// m_i = scale · Σ_j TP(h_j, Y_e, w_e) over the receiver-grouped edges, w one row per pair.
        static func messages(_ tp: TensorProductUVU, features h: [Float], edgeWeights: [Float], pass: Pass,
                             output: inout [Float]) {
            let input = pass.input
            tp.forward(features: h, sphericalHarmonics: pass.harmonics, edgeWeights: edgeWeights,
                       weightRows: input.pairs.rowOfEdge, receiverOffsets: input.receiverOffsets, senders: input.senders,
                       nodeCount: input.nodeCount, scale: pass.scale, output: &output, threads: pass.threads)
        }

        // MARK: backward

        /// The edges grouped by sender, for the tensor products' backward (one index for all
        /// layers), and each edge's position in that order (`SenderIndex.positions`).
        struct SenderOrder {
            let index: SenderIndex
            let positions: [Int32]

            init(_ input: ModelInput) {
                index = SenderIndex(receiverOffsets: input.receiverOffsets, senders: input.senders, nodeCount: input.nodeCount)
                positions = index.positions
            }
        }

        /// Backward of `forward` (same parameters, features, pass and option; its tape): given
        /// ∂L/∂h_{k+1} (`gradOutput`), ACCUMULATES ∂L/∂parameters into `gradient` (the flat layout)
        /// and WRITES ∂L/∂h_k into `gradInput` (`[N][inDim]`, in a buffer of at least that size).
        /// `recomputeEdgeWeights`: w is not in `work.edgeWeights` (another layer's is).
        func backward(parameters: UnsafePointer<Float>, features h: [Float], pass: Pass, senders: SenderOrder,
                      scalarsOnly: Bool, radialTape: FullyConnectedNet.Tape, messages: [Float], gateInput: [Float],
                      gradOutput: [Float], gradInput: inout [Float], recomputeEdgeWeights: Bool,
                      gradient: UnsafeMutablePointer<Float>, work: inout Buffers) {
            let (n, dim, nodes) = (pass.nodeCount, featureWidth, pass.nodes)
            // Gate. Then z = PostLinear(m) + s: both branches receive ∂L/∂z. ∂L/∂h_k starts with the
            // self-interaction's part.
            FlatBuffers.fit(&work.gradGateInput, n * gate.input.dimension)
            FlatBuffers.fit(&work.gradMessages, n * dim)
            gate.backward(input: gateInput, gradOutput: gradOutput, gradInput: &work.gradGateInput, blocks: nodes)
            postLinear.backward(weights: parameters + postOffset, input: messages, gradOutput: work.gradGateInput,
                                gradInput: &work.gradMessages, gradWeights: gradient + postOffset, blocks: nodes)
            selfLinear.backward(weights: parameters + selfOffset, input: h, gradOutput: work.gradGateInput,
                                gradInput: &gradInput, gradWeights: gradient + selfOffset, blocks: nodes)
            // Messages: w_e again from the radial MLP's tape; ∂L/∂h_j accumulates on top of the
            // self-interaction's, ∂L/∂w_e is written per edge.
            if let scalar = scalarPaths, scalarsOnly {
                // ∂L/∂m has no l ≥ 1 part here (nothing read those features): the l = 0 paths alone,
                // with forward's gathered radial weights (the same parameters).
                if recomputeEdgeWeights {
                    scalar.radial.recomputeOutput(weights: work.scalarRadialWeights, input: pass.radialBasis, tape: radialTape,
                                                  output: &work.edgeWeights, blocks: pass.pairs)
                }
                let width = scalar.tensorProduct.output.dimension
                FlatBuffers.fit(&work.gradScalarMessages, n * width)
                FlatBuffers.copyRows(work.gradMessages, width: dim, into: &work.gradScalarMessages, width: width, rows: n)
                FlatBuffers.fit(&work.scalarRadialGradient, scalar.radial.parameterCount)
                FlatBuffers.zero(&work.scalarRadialGradient)
                Self.messagesBackward(scalar.tensorProduct, radial: scalar.radial, radialWeights: work.scalarRadialWeights,
                                      radialTape: radialTape, radialGradient: &work.scalarRadialGradient, features: h,
                                      gradOutput: work.gradScalarMessages, pass: pass, senders: senders,
                                      edgeWeights: work.edgeWeights, gradEdgeWeights: &work.gradEdgeWeights,
                                      gradFeatures: &gradInput)
                scalar.scatterRadialGradient(work.scalarRadialGradient, fullColumns: radial.outputSize,
                                             into: gradient + radialOffset)
            } else {
                if recomputeEdgeWeights {
                    radial.recomputeOutput(weights: parameters + radialOffset, input: pass.radialBasis, tape: radialTape,
                                           output: &work.edgeWeights, blocks: pass.pairs)
                }
                Self.messagesBackward(tensorProduct, radial: radial, radialWeights: parameters + radialOffset,
                                      radialTape: radialTape, radialGradient: gradient + radialOffset, features: h,
                                      gradOutput: work.gradMessages, pass: pass, senders: senders,
                                      edgeWeights: work.edgeWeights, gradEdgeWeights: &work.gradEdgeWeights,
                                      gradFeatures: &gradInput)
            }
            if residual { FlatBuffers.add(gradOutput, into: &gradInput, width: dim, blocks: nodes) }
        }

        /// Backward of `messages` with w in `edgeWeights`, then of the radial MLP that made w (with
        /// `radialWeights`, its gradient accumulated into `radialGradient`). ∂L/∂h accumulates
        /// into `gradFeatures`. Each edge's ∂L/∂w_e goes to `gradEdgeWeights` at
        /// its sender-grouped position (the tensor product's backward writes them one after the
        /// other); each pair's sum is formed block by block as the radial MLP's backward reads it
        /// (`EdgePairs.sumGradients`).
        static func messagesBackward(_ tp: TensorProductUVU, radial: FullyConnectedNet, radialWeights: UnsafePointer<Float>,
                                     radialTape: FullyConnectedNet.Tape, radialGradient: UnsafeMutablePointer<Float>,
                                     features h: [Float], gradOutput: [Float], pass: Pass, senders: SenderOrder,
                                     edgeWeights: [Float], gradEdgeWeights: inout [Float], gradFeatures: inout [Float]) {
            tp.backward(features: h, sphericalHarmonics: pass.harmonics, edgeWeights: edgeWeights,
                        weightRows: pass.input.pairs.rowOfEdge, senderIndex: senders.index, scale: pass.scale,
                        gradOutput: gradOutput, gradFeatures: &gradFeatures, gradSphericalHarmonics: nil,
                        gradEdgeWeights: &gradEdgeWeights, gradWeightRows: senders.positions, threads: pass.threads)
            radialBackward(radial, weights: radialWeights, tape: radialTape, gradient: radialGradient,
                           perEdge: gradEdgeWeights, positions: senders.positions, width: tp.weightsPerEdge, pass: pass)
        }

        /// The radial MLP's backward, its ∂L/∂w per pair summed from the edges' (`perEdge`, edge e's
        /// at row `positions[e]`) block by block.
        static func radialBackward(_ radial: FullyConnectedNet, weights: UnsafePointer<Float>, tape: FullyConnectedNet.Tape,
                                   gradient: UnsafeMutablePointer<Float>, perEdge: UnsafePointer<Float>,
                                   positions: UnsafePointer<Int32>, width: Int, pass: Pass) {
            let edgePairs = pass.input.pairs
            radial.backward(weights: weights, input: pass.radialBasis, tape: tape,
                            gradOutput: .perBlock { rows, target in
                                edgePairs.sumGradients(perEdge, positions: positions, width: width, rows: rows, into: target)
                            },
                            gradInput: nil, gradWeights: gradient, blocks: pass.pairs)
        }
    }
}

extension PropensityModel.InteractionLayer.ScalarPaths {
    /// `w` (`radial.parameterCount` numbers) ← the weights of `radial` from those of the full
    /// radial MLP at `full` (`fullColumns` outputs): the hidden layers' as they are, the last
    /// layer's `columns`.
    func gatherRadialWeights(_ full: UnsafePointer<Float>, fullColumns: Int, into w: UnsafeMutablePointer<Float>) {
        let k = radial.layerCount - 1, last = radial.weightOffsets[k]
        w.update(from: full, count: last)
        for r in 0..<radial.sizes[k] {
            for (j, column) in columns.enumerated() { w[last + r * radial.outputSize + j] = full[last + r * fullColumns + column] }
        }
    }

    /// Adds `gradient` (the layout of `radial`) into the full radial MLP's gradient at `full`.
    func scatterRadialGradient(_ gradient: [Float], fullColumns: Int, into full: UnsafeMutablePointer<Float>) {
        let k = radial.layerCount - 1, last = radial.weightOffsets[k]
        for q in 0..<last { full[q] += gradient[q] }
        for r in 0..<radial.sizes[k] {
            for (j, column) in columns.enumerated() {
                full[last + r * fullColumns + column] += gradient[last + r * radial.outputSize + j]
            }
        }
    }
}
